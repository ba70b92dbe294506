"""Neutral summaries: gather sentences -> select central ones -> generate -> verify -> enforce
neutrality -> number citations.

Two designs, chosen by the prompt file's ``input``:

- ``key_sentences`` (summary@v2): selection decides *what* is said.  The few key sentences --
  central across the articles, one per outlet before a second from any, near-duplicates merged,
  both sides of a contested pair kept -- are chosen without the model; the model only fuses,
  orders and connects them in one short call.  A key sentence that no verified sentence cites
  (its rewrite failed verification, or the model left it out) is quoted.  summary@v3, the
  default, keeps only the model's merges: a sentence it wrote from one key sentence becomes
  that key sentence, verbatim (``quote_single``).
- ``budget`` (summary@v1): as many central sentences as fit the input budget go to the model,
  which selects and writes (map-reduce when the selection does not fit one call).

Shared by ``POST /v1/summaries``, ``newsdesk summarize`` and the benchmarks.  The model only
ever sees indexed sentences (boilerplate is never indexed), numbered ``[S1]..``; every output
sentence is verified against the sentences it cites and dropped when unsupported.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from service.errors import InvalidInput, NotFound
from service.generation.core import Citation, Generated, number_citations, write_verified
from service.generation.evidence import Evidence
from service.generation.selection import (
    DUPLICATE_AT,
    Weights,
    article_hits,
    hit_tokens,
    mmr_select,
    near_duplicates,
    pack_groups,
    reading_order,
    relevance,
    sentence_vectors,
)
from service.llm.base import Completion
from service.prompts import PromptTemplate, load_prompt
from service.retrieval.search import SentenceHit
from service.runtime import Services
from service.store.catalog import Filters
from service.tokens import count_tokens
from service.verify.citations import VerifiedSentence
from service.verify.neutrality import (
    ContestedPair,
    NeutralityReport,
    complete_pairs,
    enforce,
    find_contested_pairs,
    report,
    restate,
)

Length = Literal["short", "medium", "long"]
Style = Literal["paragraph", "bullets"]


@dataclass(frozen=True, slots=True)
class LengthSpec:
    words: str
    max_tokens: int
    calls: int
    """How many calls' worth of input the selection may keep (more than one means map-reduce)."""
    max_sentences: int
    """Generated sentences kept (the small model overruns "2 to 3 sentences"); counter-claims come on top."""
    key_sentences: int
    """Sentences a ``key_sentences`` prompt is given to fuse."""


LENGTHS: dict[str, LengthSpec] = {
    "short": LengthSpec("2 to 3 sentences", 120, 1, 3, 3),
    "medium": LengthSpec("4 to 6 sentences", 280, 2, 6, 6),
    "long": LengthSpec("7 to 10 sentences", 420, 3, 10, 10),
}
STYLES = {"paragraph": "as one paragraph", "bullets": "as a bulleted list, one sentence per line starting with '- '"}
HEADER_TOKENS = 24
"""Tokens of one ``Article A1: "title" (source, date)`` line in the rendered evidence."""
MESSAGE_TOKENS = 8
MAX_POOL_ARTICLES = 200
QUERY_CANDIDATES = 60
COVER_BONUS = 0.15
"""Key sentences: MMR gain added to a sentence of an outlet not yet represented (set a priori,
not tuned: about half the spread of the relevance scores' lead prior)."""
_BULLET = re.compile(r"^[ \t]*(?:[-*\u2022]|\d{1,2}[.)])[ \t]+", re.MULTILINE)


@dataclass(slots=True)
class SummaryParams:
    article_ids: tuple[str, ...] = ()
    query: str | None = None
    filters: Filters = field(default_factory=Filters)
    length: Length = "medium"
    style: Style = "paragraph"
    prompt_version: str | None = None
    model: str | None = None


@dataclass(slots=True)
class SummaryResult:
    summary: str
    sentences: list[tuple[VerifiedSentence, list[int]]]
    citations: list[Citation]
    neutrality: NeutralityReport
    model: str
    backend: str
    prompt: str
    usage: dict[str, int | None]
    timings: dict[str, float]
    articles: list[str]
    shown: list[str]
    calls: int
    dropped: int
    extractive_fallback: bool


@dataclass(slots=True)
class Pool:
    """The input: candidate sentences, their unit vectors and contested pairs among them."""

    hits: list[SentenceHit]
    vectors: np.ndarray
    pairs: list[ContestedPair]
    query_vector: np.ndarray | None = None


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)


# --------------------------------------------------------------------------------------------
# Input
# --------------------------------------------------------------------------------------------


def gather(services: Services, params: SummaryParams) -> tuple[list[SentenceHit], np.ndarray | None]:
    """Candidate sentences for the request, and the query vector for a topic summary."""
    f = params.filters
    if params.query:
        scoped = Filters(f.sources, params.article_ids or f.article_ids, f.since, f.until)
        hits = services.retriever.search(params.query, k=QUERY_CANDIDATES, filters=scoped).sentences
        return hits, np.asarray(services.embedder.embed([params.query])[0], dtype=np.float32)
    if params.article_ids:
        found = services.catalog.visible_versions(params.article_ids)
        missing = [a for a in params.article_ids if a not in found]
        if missing:
            raise NotFound(f"no article with id {', '.join(missing)}")
        return article_hits(services.catalog, params.article_ids), None
    if f.sources or f.since is not None or f.until is not None or f.article_ids:
        limit = min(services.settings.summary_max_articles, MAX_POOL_ARTICLES)
        rows, _ = services.catalog.list_articles(f, limit=limit, offset=0)
        return article_hits(services.catalog, [r["id"] for r in rows]), None
    raise InvalidInput.for_field("article_ids", "give article_ids, a query, or since/until/sources")


def build_pool(services: Services, hits: list[SentenceHit], query_vector: np.ndarray | None = None, *,
               distinct: bool = False) -> Pool:
    """``hits`` with their vectors and contested pairs; ``distinct``: near-duplicates merged first
    (:func:`distinct_pool`, what summary@v2 selects from)."""
    vectors = sentence_vectors(services.catalog, services.retriever.sentences, services.embedder, hits)
    if distinct:
        return distinct_pool(hits, vectors, query_vector)
    return Pool(hits, vectors, find_contested_pairs(hits, vectors), query_vector)


def distinct_pool(hits: Sequence[SentenceHit], vectors: np.ndarray, query_vector: np.ndarray | None = None) -> Pool:
    """A pool with near-duplicates (cosine >= :data:`DUPLICATE_AT`, wire copies across outlets)
    merged into their first occurrence *before* contested pairs are found, so a fact and its
    denial are each said once however many outlets carried them."""
    reps = near_duplicates(vectors, DUPLICATE_AT)
    keep = [i for i, rep in enumerate(reps) if rep == i]
    kept_hits, kept_vecs = [hits[i] for i in keep], vectors[keep]
    return Pool(kept_hits, kept_vecs, find_contested_pairs(kept_hits, kept_vecs), query_vector)


def input_budget(services: Services, tpl: PromptTemplate, max_tokens: int, **values: str) -> int:
    """Source tokens one call may carry: the configured cap, within the model's context."""
    frame = tpl.render(**{**values, "sources": ""})
    overhead = sum(count_tokens(m.content) + MESSAGE_TOKENS for m in frame)
    room = services.settings.llm_context_tokens - max_tokens - overhead - 64
    budget = min(services.settings.summary_input_tokens, room)
    if budget < 100:
        raise InvalidInput.for_field("length", f"the model context ({services.settings.llm_context_tokens} tokens) "
                                               "leaves no room for sources")
    return budget


def select(pool: Pool, *, budget_tokens: int, calls: int, weights: Weights) -> list[list[int]]:
    """Central, diverse sentences for up to ``calls`` calls of ``budget_tokens``, packed per call.

    More than one call (map-reduce) only when the input is over twice one call's budget: for
    anything smaller, selecting down to one call loses less than a reduce step costs.
    """
    if sum(hit_tokens(h) for h in pool.hits) <= 2 * budget_tokens:
        calls = 1
    scores = relevance(pool.hits, pool.vectors, weights, pool.query_vector)
    articles = len({h.article_id for h in pool.hits})
    total = budget_tokens * calls - HEADER_TOKENS * min(articles, 8 * calls)
    picked = mmr_select(pool.hits, pool.vectors, scores, budget_tokens=max(total, budget_tokens // 2),
                        max_sentences=60 * calls, diversity=weights.diversity)
    return pack_groups(pool.hits, picked, budget_tokens)


def key_sentences(pool: Pool, *, count: int, budget_tokens: int, weights: Weights,
                  scores: np.ndarray | None = None) -> list[int]:
    """The ``count`` sentences a summary is built on, most important first: central (and on the
    query), each outlet represented before any has two.  ``pool`` is a :func:`distinct_pool`.

    A neutral summary names what is disputed: when the sources hold a contested pair and none of
    the picks belongs to one, the strongest pair's claim takes the last place (its counter-claim
    joins it in :func:`fuse`).
    """
    if scores is None:
        scores = relevance(pool.hits, pool.vectors, weights, pool.query_vector)
    picked = mmr_select(pool.hits, pool.vectors, scores, budget_tokens=budget_tokens, max_sentences=count,
                        diversity=weights.diversity, cover_bonus=COVER_BONUS)
    sided = {h.id for p in pool.pairs for h in (p.claim, p.counter)}
    if pool.pairs and count >= 2 and not any(pool.hits[i].id in sided for i in picked):
        claim = max(pool.pairs, key=lambda p: p.score).claim.id
        picked = [*picked[:count - 1], next(i for i, h in enumerate(pool.hits) if h.id == claim)]
    return picked


def by_article(hits: Sequence[SentenceHit], picked: Sequence[int]) -> list[int]:
    """``picked`` grouped by article (articles in order of their first pick), each in text order."""
    rank: dict[str, int] = {}
    for i in picked:
        rank.setdefault(hits[i].article_id, len(rank))
    return sorted(picked, key=lambda i: (rank[hits[i].article_id], hits[i].index))


# --------------------------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------------------------


def strip_bullets(text: str) -> str:
    return _BULLET.sub("", text)


def cut_truncated(completion: Completion) -> str:
    """A reply cut by max_tokens ends mid-sentence: keep it only up to its last citation."""
    text = completion.text
    if completion.finish_reason == "length" and "]" in text:
        return text[: text.rfind("]") + 1]
    return text


def generate_verified(services: Services, evidence: Evidence, tpl: PromptTemplate, *, model: str | None,
                      max_tokens: int, values: dict[str, str],
                      clean: Callable[[str], str] | None = None, keep: int | None = None) -> Generated:
    """The shared core's write -> verify, with the clean-up of truncated and bulleted replies
    (``keep``: stop the model once it has written that many verified sentences)."""
    return write_verified(services, evidence, tpl, model=model, max_tokens=max_tokens, values=values,
                          clean=lambda completion: (clean or strip_bullets)(cut_truncated(completion)), keep=keep)


def _evidence(pool: Pool, indexes: Sequence[int]) -> Evidence:
    chosen = [pool.hits[i] for i in reading_order(pool.hits, indexes)]
    return Evidence(tuple(complete_pairs(chosen, pool.pairs)))


def _cited_indexes(pool: Pool, generated: Sequence[Generated]) -> list[int]:
    position = {h.id: i for i, h in enumerate(pool.hits)}
    cited = {position[h.id] for g in generated for v in g.verified for h in v.citations if h.id in position}
    return sorted(cited)


def add_usage(total: dict[str, int | None], completion: Completion) -> None:
    """Add a call's tokens; a count one call did not report makes the total unknown (None)."""
    for key, value in (("prompt_tokens", completion.usage.prompt_tokens),
                       ("completion_tokens", completion.usage.completion_tokens)):
        before = total.get(key, 0)
        total[key] = None if value is None or before is None else before + value


def extractive(services: Services, pool: Pool, groups: Sequence[Sequence[int]], n: int) -> list[VerifiedSentence]:
    """The ``n`` most relevant selected sentences, verbatim: the fallback when nothing verified."""
    firsts = [i for g in groups for i in g][:n]
    return restate([pool.hits[i] for i in reading_order(pool.hits, firsts)], services.checker)


# --------------------------------------------------------------------------------------------
# Pipeline
# --------------------------------------------------------------------------------------------


def summarize(services: Services, params: SummaryParams) -> SummaryResult:
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    hits, qvec = gather(services, params)
    if not hits:
        raise NotFound("no indexed sentences match the request")
    spec = LENGTHS[params.length]
    tpl = load_prompt("summary", params.prompt_version or services.settings.summary_prompt_version)
    pool = build_pool(services, hits, qvec, distinct=tpl.input == "key_sentences")
    values = {"length": spec.words, "style": STYLES[params.style]}
    budget = input_budget(services, tpl, spec.max_tokens, **values)
    weights = Weights(centrality=0.35, lead=0.15, query=0.5) if qvec is not None else Weights()
    usage: dict[str, int | None] = {"prompt_tokens": 0, "completion_tokens": 0}
    if tpl.input == "key_sentences":
        picked = key_sentences(pool, count=spec.key_sentences, budget_tokens=budget, weights=weights)
        timings["select_ms"] = _ms(t0)
        t1 = time.perf_counter()
        partials: list[Generated] = []
        final, written = fuse(services, pool, picked, tpl, spec, values, params.model)
        groups = [picked]
    else:
        groups = select(pool, budget_tokens=budget, calls=spec.calls, weights=weights)
        timings["select_ms"] = _ms(t0)
        t1 = time.perf_counter()
        partials, final = map_reduce(services, pool, groups, tpl, spec, values, params.model, usage)
        written = final.verified[: spec.max_sentences]
    add_usage(usage, final.completion)
    timings["generate_ms"] = _ms(t1)

    t2 = time.perf_counter()
    shown_ids = set(final.evidence.ids)
    surface = sorted((p for p in pool.pairs if p.claim.id in shown_ids), key=lambda p: -p.score)[: spec.calls]
    kept, fixes = enforce(written, pool.pairs, services.checker, surface=surface)
    fallback = not kept
    if fallback:
        quoted = spec.max_sentences if tpl.input == "key_sentences" else 2  # v2's key sentences are a summary
        kept, fixes = enforce(extractive(services, pool, groups, quoted), pool.pairs, services.checker,
                              surface=surface)
    numbered, citations, text = number_citations(services, kept)
    if params.style == "bullets":
        text = "\n".join(f"- {v.text} {''.join(f'[{n}]' for n in nums)}".rstrip() for v, nums in numbered)
    neutrality = report([(v.text, v.citations) for v in kept], pool.pairs, fixes)
    timings["verify_ms"] = _ms(t2)
    timings["total_ms"] = _ms(t0)
    shown = {sid for g in (*partials, final) for sid in g.evidence.ids}
    return SummaryResult(
        summary=text, sentences=numbered, citations=citations, neutrality=neutrality,
        model=final.completion.model, backend=final.completion.backend, prompt=tpl.ref, usage=usage,
        timings=timings, articles=list(dict.fromkeys(h.article_id for h in pool.hits)), shown=sorted(shown),
        calls=len(partials) + 1, dropped=len(final.draft.sentences) - len(final.verified),
        extractive_fallback=fallback,
    )


def map_reduce(services: Services, pool: Pool, groups: list[list[int]], tpl: PromptTemplate, spec: LengthSpec,
               values: dict[str, str], model: str | None, usage: dict[str, int | None]
               ) -> tuple[list[Generated], Generated]:
    """summary@v1: one call over the selection; over several groups, map each, then reduce what
    the maps cited."""
    partials: list[Generated] = []
    if len(groups) > 1:
        for group in groups:
            partials.append(generate_verified(services, _evidence(pool, group), tpl, model=model,
                                              max_tokens=spec.max_tokens, values=values))
            add_usage(usage, partials[-1].completion)
        final_idx = _cited_indexes(pool, partials) or [i for g in groups for i in g]
    else:
        final_idx = groups[0] if groups else []
    final = generate_verified(services, _evidence(pool, final_idx), tpl, model=model,
                              max_tokens=spec.max_tokens, values=values, keep=spec.max_sentences)
    return partials, final


def quote_single(written: Sequence[VerifiedSentence], checker: Any) -> list[VerifiedSentence]:
    """summary@v3: a written sentence that cites one key sentence becomes that sentence, verbatim
    (once); a sentence that merges several stays as written.  On every summary suite, both
    folds, the model's trimmed copies scored below the sentences they copy (docs/summaries.md)."""
    out: list[VerifiedSentence] = []
    quoted: set[str] = set()
    for v in written:
        if len(v.citations) != 1:
            out.append(v)
        elif v.citations[0].id not in quoted:
            quoted.add(v.citations[0].id)
            out += restate(v.citations, checker)
    return out


def fuse(services: Services, pool: Pool, picked: Sequence[int], tpl: PromptTemplate, spec: LengthSpec,
         values: dict[str, str], model: str | None) -> tuple[Generated, list[VerifiedSentence]]:
    """summary@v2: the model fuses the key sentences (plus the other side of any contested pair
    among them).  Selection decided what is said, so a key sentence that no verified sentence
    cites -- its rewrite failed verification, or the model left it out -- is quoted after them:
    a failed or lazy rewrite loses no content."""
    chosen = [pool.hits[i] for i in by_article(pool.hits, picked)]
    evidence = Evidence(tuple(complete_pairs(chosen, pool.pairs)))
    gen = generate_verified(services, evidence, tpl, model=model, max_tokens=spec.max_tokens, values=values,
                            keep=spec.max_sentences)  # the model stops once it has written what is kept
    kept = gen.verified[: spec.max_sentences]
    if tpl.quote_single:
        kept = quote_single(kept, services.checker)
    cited = {h.id for v in kept for h in v.citations}
    lost = [pool.hits[i] for i in picked if pool.hits[i].id not in cited]
    return gen, kept + restate(lost, services.checker)
