"""Input selection for summaries and briefings: which indexed sentences the model gets to see.

Long inputs must not blow the model's context window.  Sentences are ranked by centrality
(mean cosine to the rest of the input, the LexRank idea without the power iteration), a lead
prior (news puts the main facts first) and, for topic summaries, similarity to the query; then
picked by maximal marginal relevance under a tiktoken budget, so near-repeats across outlets
do not crowd out the other facts.  Vectors come from Chroma's sentence collection (written at
ingest); sentences without a stored vector are embedded again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from service.retrieval.search import SentenceHit
from service.store.articles import sentence_vector_id
from service.store.catalog_base import BaseCatalog
from service.tokens import count_tokens

MARKER_TOKENS = 4
"""What ``[S12] `` and the line break cost in the rendered evidence, on top of the text."""
DUPLICATE_AT = 0.9
"""Sentences (of different outlets) at or above this cosine are one fact, said once."""


def row_to_hit(row: dict[str, Any]) -> SentenceHit:
    """A :meth:`BaseCatalog.article_sentences` row as a :class:`SentenceHit` (score 0)."""
    return SentenceHit(row["article_id"], int(row["idx"]), row["text"], int(row["start"]), int(row["end"]),
                       row["title"], row["url"], row["source"], row["published_iso"])


def article_hits(catalog: BaseCatalog, article_ids: Sequence[str]) -> list[SentenceHit]:
    """Indexed (never boilerplate) sentences of the given articles, in the order of ``article_ids``."""
    rows = catalog.article_sentences(list(article_ids))
    rank = {aid: n for n, aid in enumerate(article_ids)}
    hits = [row_to_hit(r) for r in rows]
    return sorted(hits, key=lambda h: (rank.get(h.article_id, len(rank)), h.index))


def sentence_vectors(catalog: BaseCatalog, collection: Any, embedder: Any, hits: Sequence[SentenceHit]) -> np.ndarray:
    """Unit vectors of ``hits`` (rows in order), from Chroma where stored, else embedded now."""
    if not hits:
        return np.zeros((0, 1), dtype=np.float32)
    versions = catalog.visible_versions([h.article_id for h in hits])
    ids = {h.id: sentence_vector_id(h.article_id, versions.get(h.article_id, ""), h.index) for h in hits}
    stored: dict[str, np.ndarray] = {}
    for i in range(0, len(hits), 500):
        part = [ids[h.id] for h in hits[i : i + 500]]
        got = collection.get(ids=part, include=["embeddings"])
        for vid, emb in zip(got["ids"], got["embeddings"], strict=True):
            stored[vid] = np.asarray(emb, dtype=np.float32)
    missing = [h for h in hits if ids[h.id] not in stored]
    if missing:
        for h, vec in zip(missing, embedder.embed([h.text for h in missing]), strict=True):
            stored[ids[h.id]] = np.asarray(vec, dtype=np.float32)
    return _unit(np.vstack([stored[ids[h.id]] for h in hits]))


def _unit(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32)


def _minmax(x: np.ndarray) -> np.ndarray:
    span = float(x.max() - x.min()) if x.size else 0.0
    return (x - x.min()) / span if span > 1e-9 else np.ones_like(x)


@dataclass(frozen=True, slots=True)
class Weights:
    centrality: float = 0.55
    lead: float = 0.45
    query: float = 0.0
    diversity: float = 0.3
    """MMR trade-off: 0 ranks by relevance only, 1 by novelty only."""


def relevance(hits: Sequence[SentenceHit], vectors: np.ndarray, weights: Weights,
              query_vector: np.ndarray | None = None) -> np.ndarray:
    """Centrality + lead prior (+ query similarity), each scaled to [0, 1]."""
    n = len(hits)
    if n == 0:
        return np.zeros(0, dtype=np.float32)
    sims = vectors @ vectors.T
    central = (sims.sum(axis=1) - 1.0) / max(n - 1, 1)
    lead = np.array([1.0 / np.sqrt(1.0 + h.index) for h in hits], dtype=np.float32)
    score = weights.centrality * _minmax(central) + weights.lead * lead
    if query_vector is not None and weights.query:
        score = score + weights.query * _minmax(vectors @ query_vector)
    return score.astype(np.float32)


def hit_tokens(hit: SentenceHit, encoding: str = "cl100k_base") -> int:
    return count_tokens(hit.text, encoding) + MARKER_TOKENS


def mmr_select(hits: Sequence[SentenceHit], vectors: np.ndarray, scores: np.ndarray, *, budget_tokens: int,
               max_sentences: int, diversity: float, encoding: str = "cl100k_base",
               cover_bonus: float = 0.0) -> list[int]:
    """Indexes picked by maximal marginal relevance until the token budget or count is reached.

    Deterministic: ties go to the earlier hit.  A sentence that alone exceeds the remaining
    budget is skipped, so one very long sentence cannot starve the rest.  ``cover_bonus``: added
    to the gain of a sentence whose outlet has nothing picked yet, so every outlet's view gets in
    before a second sentence of one.
    """
    chosen: list[int] = []
    left = budget_tokens
    redundancy = np.zeros(len(hits), dtype=np.float32)
    available = np.ones(len(hits), dtype=bool)
    cost = [hit_tokens(h, encoding) for h in hits]
    sources = np.array([h.source for h in hits], dtype=object)
    uncovered = np.ones(len(hits), dtype=bool)
    while len(chosen) < max_sentences and available.any():
        gain = (1 - diversity) * scores - diversity * redundancy + cover_bonus * uncovered
        best = int(np.argmax(np.where(available, gain, -np.inf)))
        available[best] = False
        if cost[best] > left:
            continue
        chosen.append(best)
        left -= cost[best]
        redundancy = np.maximum(redundancy, vectors @ vectors[best])
        uncovered &= sources != hits[best].source
    return chosen


def reading_order(hits: Sequence[SentenceHit], picked: Sequence[int]) -> list[int]:
    """``picked`` re-ordered by article (in first-seen order of ``hits``) then sentence index."""
    article_rank: dict[str, int] = {}
    for h in hits:
        article_rank.setdefault(h.article_id, len(article_rank))
    return sorted(picked, key=lambda i: (article_rank[hits[i].article_id], hits[i].index))


def pack_groups(hits: Sequence[SentenceHit], picked: Sequence[int], budget_tokens: int,
                encoding: str = "cl100k_base") -> list[list[int]]:
    """Split ``picked`` (in reading order) into consecutive groups of at most ``budget_tokens``."""
    groups: list[list[int]] = [[]]
    used = 0
    for i in reading_order(hits, picked):
        cost = hit_tokens(hits[i], encoding)
        if groups[-1] and used + cost > budget_tokens:
            groups.append([])
            used = 0
        groups[-1].append(i)
        used += cost
    return [g for g in groups if g]


def near_duplicates(vectors: np.ndarray, threshold: float) -> list[int]:
    """For each row, the index of the first earlier row it near-duplicates (itself if none)."""
    rep = list(range(len(vectors)))
    if len(vectors) == 0:
        return rep
    sims = vectors @ vectors.T
    for i in range(len(vectors)):
        earlier = np.nonzero(sims[i, :i] >= threshold)[0]
        if earlier.size:
            rep[i] = rep[int(earlier[0])]
    return rep
