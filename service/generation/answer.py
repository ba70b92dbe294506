"""Question answering: retrieve -> select evidence -> generate -> verify -> respond.

Shared by ``POST /v1/ask``, ``newsdesk ask`` and the eval runner.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from service.generation.evidence import Evidence, select_evidence
from service.llm.base import Completion
from service.logs.calls import call_model, stream_model
from service.prompts import load_prompt
from service.retrieval.search import SentenceHit
from service.runtime import Services
from service.store.catalog import Filters
from service.verify.citations import Draft, VerifiedSentence, parse_draft, verify


@dataclass(slots=True)
class AskParams:
    question: str
    filters: Filters = field(default_factory=Filters)
    top_k: int = 8
    prompt_version: str | None = None
    model: str | None = None
    flag_unsupported: bool = False


@dataclass(slots=True)
class Citation:
    marker: int
    hit: SentenceHit
    quote: str
    support: float | None = None
    """Highest support score of the output sentences citing it."""
    selection: float | None = None
    """The model's probability that this sentence answers (evidence records only)."""


@dataclass(slots=True)
class AnswerResult:
    answer: str
    sentences: list[tuple[VerifiedSentence, list[int]]]
    citations: list[Citation]
    abstained: bool
    abstain_reason: str | None
    evidence: list[Citation]
    """Sentences considered (numbered in retrieval order), with their quotes; never support."""
    model: str
    backend: str
    prompt: str
    usage: dict[str, int | None]
    timings: dict[str, float]
    dropped: int = 0
    invalid_markers: list[str] = field(default_factory=list)
    mode: str = "written"


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)


@dataclass(slots=True)
class Prepared:
    params: AskParams
    evidence: Evidence
    candidates: list[SentenceHit]
    best_dense: float
    messages: list[Any]
    prompt_ref: str
    prompt_name: str
    prompt_version: str
    max_tokens: int
    temperature: float
    timings: dict[str, float]


def prepare(services: Services, params: AskParams) -> Prepared:
    """Retrieve and build the prompt. No model call."""
    t0 = time.perf_counter()
    result = services.retriever.search(params.question, k=max(params.top_k * 2, 12), filters=params.filters)
    timings = {"retrieve_ms": _ms(t0)}
    best = result.best_dense
    floor = services.settings.relevance_floor
    evidence = select_evidence(result.sentences, max_sentences=params.top_k, min_dense=max(floor * 0.75, best - 0.35))
    version = params.prompt_version or services.settings.answer_prompt_version
    tpl = load_prompt("answer", version)
    messages = tpl.render(question=" ".join(params.question.split()), sources=evidence.render(),
                          today=datetime.now(UTC).date().isoformat())
    return Prepared(params, evidence, result.sentences, best, messages, tpl.ref, tpl.name, tpl.version, tpl.max_tokens,
                    tpl.temperature, timings)


def below_floor(services: Services, prep: Prepared) -> bool:
    return not prep.evidence.hits or prep.best_dense < services.settings.relevance_floor


def answer(services: Services, params: AskParams) -> AnswerResult:
    t0 = time.perf_counter()
    backend = services.backend(params.model)  # an unknown model is an error even when we abstain
    prep = prepare(services, params)
    if below_floor(services, prep):
        return _abstain(services, prep, "no indexed sentence is relevant enough to the question", t0)
    t1 = time.perf_counter()
    completion = call_model(backend, prep.messages, log=services.call_log, prompt_name=prep.prompt_name,
                            prompt_version=prep.prompt_version, retrieved_ids=prep.evidence.ids,
                            temperature=prep.temperature, max_tokens=prep.max_tokens)
    prep.timings["generate_ms"] = _ms(t1)
    return finish(services, prep, completion, t0)


def answer_stream(services: Services, params: AskParams) -> Iterator[str | AnswerResult]:
    """Yield text deltas as the model writes, then the verified :class:`AnswerResult`."""
    t0 = time.perf_counter()
    backend = services.backend(params.model)
    prep = prepare(services, params)
    if below_floor(services, prep):
        yield _abstain(services, prep, "no indexed sentence is relevant enough to the question", t0)
        return
    t1 = time.perf_counter()
    handle = stream_model(backend, prep.messages, log=services.call_log, prompt_name=prep.prompt_name,
                          prompt_version=prep.prompt_version, retrieved_ids=prep.evidence.ids,
                          temperature=prep.temperature, max_tokens=prep.max_tokens)
    first = True
    with handle:
        for delta in handle:
            if first:
                prep.timings["first_token_ms"] = _ms(t1)
                first = False
            yield delta
        completion = handle.completion
    prep.timings["generate_ms"] = _ms(t1)
    yield finish(services, prep, completion, t0)


def finish(services: Services, prep: Prepared, completion: Completion, t0: float) -> AnswerResult:
    t2 = time.perf_counter()
    shown = prep.evidence.by_marker()
    draft: Draft = parse_draft(completion.text, set(shown))
    verified = verify(draft, shown, services.checker, services.support_threshold,
                      keep_flagged=prep.params.flag_unsupported)
    prep.timings["verify_ms"] = _ms(t2)
    usage = {"prompt_tokens": completion.usage.prompt_tokens, "completion_tokens": completion.usage.completion_tokens}
    kept = [v for v in verified if not v.flagged]
    if not kept:
        reason = ("the model said the sources do not answer the question" if draft.abstained
                  else "no sentence of the draft answer was supported by the cited sources")
        res = _abstain(services, prep, reason, t0, model=completion.model, backend=completion.backend, usage=usage)
        res.dropped = len(draft.sentences)
        res.invalid_markers = draft.invalid_markers
        if prep.params.flag_unsupported:
            res.sentences = [(v, []) for v in verified]
        return res
    numbered, citations, text = number_citations(services, verified)
    prep.timings["total_ms"] = _ms(t0)
    return AnswerResult(text, numbered, citations, False, None, evidence_records(services, prep.evidence.hits),
                        completion.model,
                        completion.backend, prep.prompt_ref, usage, prep.timings,
                        dropped=len(draft.sentences) - len(kept), invalid_markers=draft.invalid_markers)


def number_citations(services: Services, verified: list[VerifiedSentence]
                     ) -> tuple[list[tuple[VerifiedSentence, list[int]]], list[Citation], str]:
    """Give each distinct cited sentence a number [1], [2]... in order of first use."""
    numbers: dict[str, int] = {}
    hits: dict[str, SentenceHit] = {}
    numbered: list[tuple[VerifiedSentence, list[int]]] = []
    parts: list[str] = []
    for v in verified:
        nums = []
        for h in v.citations:
            if h.id not in numbers:
                numbers[h.id] = len(numbers) + 1
                hits[h.id] = h
            nums.append(numbers[h.id])
        numbered.append((v, nums))
        marks = "".join(f"[{n}]" for n in nums)
        parts.append(f"{v.text} {marks}".strip() if not v.flagged else f"{v.text} [unsupported]")
    quotes = services.catalog.quotes([(h.article_id, h.index) for h in hits.values()])
    support = {sid: max(v.support for v in verified if any(h.id == sid for h in v.citations)) for sid in hits}
    citations = [Citation(numbers[sid], h, quotes[(h.article_id, h.index)], support[sid]) for sid, h in hits.items()]
    return numbered, citations, " ".join(parts)


def _abstain(services: Services, prep: Prepared, reason: str, t0: float, *, model: str | None = None,
             backend: str | None = None, usage: dict[str, int | None] | None = None) -> AnswerResult:
    prep.timings["total_ms"] = _ms(t0)
    return AnswerResult(
        "The indexed sources do not answer this question.", [], [], True, reason,
        evidence_records(services, prep.candidates[:5]), model or "none", backend or "none", prep.prompt_ref,
        usage or {"prompt_tokens": 0, "completion_tokens": 0}, prep.timings, mode="abstained",
    )


def evidence_records(services: Services, hits: Sequence[SentenceHit]) -> list[Citation]:
    quotes = services.catalog.quotes([(h.article_id, h.index) for h in hits])
    return [Citation(i + 1, h, quotes[(h.article_id, h.index)]) for i, h in enumerate(hits)]
