"""The verified-generation core that answers, summaries and briefings share.

    select  (each task picks its evidence: answers by the model's vote, summaries and briefings
             by centrality)                                        -> Evidence
    write   one logged model call over the numbered evidence       -> Completion
    verify  parse markers, score support, re-attribute or drop     -> VerifiedSentence list
    neutral attribution kept, counter-claims added (service.verify.neutrality.enforce)
    cite    number the cited sentences [1], [2]... with exact quotes

A fix to any step reaches all three tasks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from service.generation.evidence import Evidence
from service.llm.base import Completion
from service.logs.calls import call_model, call_model_until
from service.prompts import PromptTemplate
from service.retrieval.search import SentenceHit
from service.runtime import Services
from service.verify.citations import Draft, VerifiedSentence, parse_draft, verify


@dataclass(slots=True)
class Citation:
    """A numbered source sentence with its exact quote (``article.text[start:end]``)."""

    marker: int
    hit: SentenceHit
    quote: str
    support: float | None = None
    """Highest support score of the output sentences citing it."""
    selection: float | None = None
    """The model's probability that this sentence answers (evidence records only)."""


@dataclass(slots=True)
class Generated:
    verified: list[VerifiedSentence]
    draft: Draft
    completion: Completion
    evidence: Evidence


def render_messages(tpl: PromptTemplate, evidence: Evidence, values: dict[str, str]) -> list[Any]:
    """The template's messages over ``evidence`` (``sources``; ``dates`` where it asks for them)."""
    extra = {"dates": evidence.date_range()} if "dates" in tpl.variables else {}
    return tpl.render(sources=evidence.render(), **extra, **values)


def verify_completion(services: Services, evidence: Evidence, completion: Completion, *,
                      question: str | None = None, clean: Callable[[Completion], str] | None = None,
                      keep_flagged: bool = False) -> Generated:
    """Parse and verify a reply written over ``evidence`` (unsupported sentences dropped or flagged).

    ``question``: names, numbers and dates the question gives count as given to the claim.
    """
    shown = evidence.by_marker()
    text = clean(completion) if clean else completion.text
    draft = parse_draft(text, set(shown))
    verified = verify(draft, shown, services.checker, services.support_threshold, question=question,
                      keep_flagged=keep_flagged)
    return Generated(verified, draft, completion, evidence)


def write_verified(services: Services, evidence: Evidence, tpl: PromptTemplate, *, model: str | None,
                   max_tokens: int, values: dict[str, str], clean: Callable[[Completion], str] | None = None,
                   question: str | None = None, keep: int | None = None) -> Generated:
    """One logged model call over ``evidence``, its draft parsed and verified.

    ``keep``: the caller uses only the first ``keep`` verified sentences, so the model is stopped
    as soon as its reply holds them (:class:`FirstVerified`) instead of writing on to its end.
    """
    messages = render_messages(tpl, evidence, values)
    meta = {"log": services.call_log, "prompt_name": tpl.name, "prompt_version": tpl.version,
            "retrieved_ids": evidence.ids, "temperature": tpl.temperature, "max_tokens": max_tokens}
    if keep is None:
        completion = call_model(services.backend(model), messages, **meta)
    else:
        enough = FirstVerified(services, evidence, keep, question=question, clean=clean)
        completion = call_model_until(services.backend(model), messages, enough=enough, **meta)
        if enough.found is not None and enough.found.completion.text == completion.text:
            return replace(enough.found, completion=completion)  # the cut reply, verified once
    return verify_completion(services, evidence, completion, question=question, clean=clean)


_SENTENCE_DONE = re.compile(r"\][.!?]?(?=\s+[^\s\[])")
"""A marker group (and a full stop the model put after it) followed by the start of more text:
every marker of the sentence before it is in."""


class FirstVerified:
    """``enough`` for :func:`call_model_until`: the cut after the first sentence boundary at
    which the reply so far holds ``keep`` verified sentences.  Boundaries are tried in order and
    each is verified once, so a reply cut at the same place whether it streamed in token by token
    or came whole from a cache."""

    def __init__(self, services: Services, evidence: Evidence, keep: int, *, question: str | None = None,
                 clean: Callable[[Completion], str] | None = None) -> None:
        self.services, self.evidence, self.keep = services, evidence, keep
        self.question, self.clean = question, clean
        self.tried = 0
        """The last boundary verified (a boundary never moves once the text after it has begun)."""
        self.found: Generated | None = None
        """The verified reply up to the cut, once there is one."""

    def __call__(self, text: str) -> int | None:
        for match in _SENTENCE_DONE.finditer(text):
            cut = match.end()
            if cut <= self.tried:
                continue
            self.tried = cut
            if text.count("]", 0, cut) < self.keep:  # fewer marker groups than sentences to keep
                continue
            part = Completion(text[:cut], "", "", finish_reason="stop")
            gen = verify_completion(self.services, self.evidence, part, question=self.question, clean=self.clean)
            if len(gen.verified) >= self.keep:
                self.found = gen
                return cut
        return None


def number_citations(services: Services, verified: Sequence[VerifiedSentence]
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


def quote_records(services: Services, hits: Sequence[SentenceHit],
                  selection: Sequence[float | None] | None = None) -> list[Citation]:
    """Numbered records of ``hits`` with their exact quotes (evidence lists, not citations)."""
    quotes = services.catalog.quotes([(h.article_id, h.index) for h in hits])
    probs = list(selection) if selection is not None else [None] * len(hits)
    return [Citation(i + 1, h, quotes[(h.article_id, h.index)], selection=p)
            for i, (h, p) in enumerate(zip(hits, probs, strict=True))]


def citation_record(c: Citation) -> dict[str, Any]:
    """The JSON form of a citation (the CitationOut shape), for stored payloads."""
    fields = ("article_id", "title", "url", "source", "published_at", "start", "end")
    return {"marker": c.marker, "sentence_id": c.hit.id, "quote": c.quote, "support": c.support,
            **{k: getattr(c.hit, k) for k in fields}}
