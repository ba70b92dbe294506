"""Group a day's articles into stories: deterministic average-linkage agglomerative clustering.

Two articles are about the same story when their centroids (lead-weighted mean of their
sentence vectors) are close, they share named entities, and they were published close in time:

    sim(a, b) = cos(centroid_a, centroid_b) + ENTITY_WEIGHT * jaccard(names_a, names_b)
                - TIME_WEIGHT * min(1, hours_apart / 24)

Clusters merge while the average similarity between them reaches the threshold.  Inputs are
sorted by article id and ties go to the lowest pair, so the same inputs give the same clusters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import combinations

import numpy as np

from service.retrieval.search import SentenceHit
from service.verify.neutrality import names

ENTITY_WEIGHT = 0.25
TIME_WEIGHT = 0.1
SAME_STORY_AT = 0.5
"""Average-linkage threshold, chosen on AllSides days (see docs/benchmarks.md)."""


@dataclass(slots=True)
class ArticleDoc:
    article_id: str
    source: str
    title: str
    url: str | None
    published: float | None
    centroid: np.ndarray
    names: set[str] = field(default_factory=set)
    rows: list[int] = field(default_factory=list)
    """Positions of this article's sentences in the pool."""


def _epoch(iso: str | None) -> float | None:
    if not iso:
        return None
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def article_docs(hits: Sequence[SentenceHit], vectors: np.ndarray) -> list[ArticleDoc]:
    """One document per article (sorted by id), from its sentences' vectors and names."""
    by_article: dict[str, list[int]] = {}
    for i, h in enumerate(hits):
        by_article.setdefault(h.article_id, []).append(i)
    docs: list[ArticleDoc] = []
    for aid in sorted(by_article):
        rows = by_article[aid]
        first = hits[rows[0]]
        weights = np.array([1.0 / np.sqrt(1.0 + hits[i].index) for i in rows], dtype=np.float32)
        centroid = (vectors[rows] * weights[:, None]).sum(axis=0)
        centroid /= max(float(np.linalg.norm(centroid)), 1e-12)
        found = names(first.title).union(*(names(hits[i].text) for i in rows))
        docs.append(ArticleDoc(aid, first.source, first.title, first.url, _epoch(first.published_at), centroid,
                               found, rows))
    return docs


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def similarity_matrix(docs: Sequence[ArticleDoc]) -> np.ndarray:
    n = len(docs)
    if n == 0:
        return np.zeros((0, 0), dtype=np.float64)
    cents = np.vstack([d.centroid for d in docs]).astype(np.float64)
    sims = cents @ cents.T
    for i, j in combinations(range(n), 2):
        extra = ENTITY_WEIGHT * _jaccard(docs[i].names, docs[j].names)
        ti, tj = docs[i].published, docs[j].published
        if ti is not None and tj is not None:
            extra -= TIME_WEIGHT * min(1.0, abs(ti - tj) / 86400.0)
        sims[i, j] += extra
        sims[j, i] += extra
    return sims


def agglomerate(sims: np.ndarray, threshold: float = SAME_STORY_AT) -> list[list[int]]:
    """Average-linkage clusters of the rows of ``sims``, each sorted, ordered by first member."""
    n = len(sims)
    members: dict[int, list[int]] = {i: [i] for i in range(n)}
    link = sims.astype(np.float64).copy()
    np.fill_diagonal(link, -np.inf)
    alive = np.ones(n, dtype=bool)
    while alive.sum() > 1:
        masked = np.where(alive[:, None] & alive[None, :], link, -np.inf)
        flat = int(np.argmax(masked))
        a, b = divmod(flat, n)
        if masked[a, b] < threshold:
            break
        a, b = min(a, b), max(a, b)
        sa, sb = len(members[a]), len(members[b])
        merged = (link[a] * sa + link[b] * sb) / (sa + sb)
        link[a, :], link[:, a] = merged, merged
        link[a, a] = -np.inf
        alive[b] = False
        members[a] = sorted(members[a] + members.pop(b))
    return sorted((m for i, m in members.items() if alive[i]), key=lambda m: m[0])


def cluster(docs: Sequence[ArticleDoc], threshold: float = SAME_STORY_AT) -> list[list[ArticleDoc]]:
    return [[docs[i] for i in group] for group in agglomerate(similarity_matrix(docs), threshold)]


def pairwise_scores(predicted: Sequence[Sequence[str]], gold: dict[str, str]) -> dict[str, float]:
    """Pairwise precision/recall/F1 of "same story" over the items of ``gold`` (item -> label)."""
    label = {item: n for n, group in enumerate(predicted) for item in group}
    items = sorted(gold)
    tp = fp = fn = 0
    for a, b in combinations(items, 2):
        same_pred = label.get(a) is not None and label.get(a) == label.get(b)
        same_gold = gold[a] == gold[b]
        tp += same_pred and same_gold
        fp += same_pred and not same_gold
        fn += same_gold and not same_pred
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "pairs_true": tp + fn, "pairs_predicted": tp + fp}
