"""Hybrid retrieval: dense (Chroma, sentences and chunks) + lexical (BM25 over sentences, in
the catalogue's FTS5 index), fused, filtered to visible articles.

:meth:`Retriever.candidates` gathers every signal of every candidate sentence once;
:func:`fuse` turns them into one score.  The fusion in production (:data:`DEFAULT_FUSION`) was
picked on the HotpotQA dev sentences with ``python -m evals.retrieval`` (docs/retrieval.md),
which scores every fusion on the same candidates.

With a :class:`~service.retrieval.rerank.Reranker` (``NEWSDESK_RERANKER=e5``), the top
:data:`RERANK_TOP` of that fusion are scored by it too and re-ordered by :data:`RERANK_FUSION`;
the rest follow, in their order, below them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, cast

import numpy as np
from chromadb.api.models.Collection import Collection

from service.retrieval.question import QuestionType, answer_type_match, question_type
from service.retrieval.rerank import Reranker
from service.store.catalog_base import TITLE_WEIGHT, BaseCatalog, Filters
from vectorstore.client import CHUNKS, SENTENCES

LEXICAL_MIN_SHARE = 0.15  # BM25 hits below this share of the best BM25 score are dropped
RERANK_TOP = 40
"""Candidates of the first fusion that a reranker scores (it embeds each: the cost grows with this)."""
RERANK_TITLE = False
"""The reranker reads "Title: sentence" instead of the sentence alone."""
FIRST_HOP_KEEP = 5
"""Of the first hop, the best this many come before any second-hop sentence (:meth:`Retriever.second_hop`)."""

Key = tuple[str, int]
ChunkRow = tuple[str, dict[str, Any], str, float]
"""A dense hit: (vector id, metadata, document, cosine similarity)."""


@dataclass(slots=True)
class SentenceHit:
    article_id: str
    index: int
    text: str
    start: int
    end: int
    title: str
    url: str | None
    source: str
    published_at: str | None
    score: float = 0.0
    dense: float | None = None
    lexical: float | None = None

    @property
    def id(self) -> str:
        return f"{self.article_id}:{self.index}"


@dataclass(slots=True)
class ChunkHit:
    id: str
    article_id: str
    text: str
    sentence_ids: list[str]
    score: float


@dataclass(slots=True)
class SearchResult:
    query: str
    sentences: list[SentenceHit] = field(default_factory=list)
    chunks: list[ChunkHit] = field(default_factory=list)

    @property
    def best_dense(self) -> float:
        return max((s.dense for s in self.sentences if s.dense is not None), default=0.0)


@dataclass(slots=True)
class Candidate:
    """Every retrieval signal of one sentence (``None``: that ranker did not return it)."""

    cos: float | None = None
    dense_rank: int | None = None
    bm25: float | None = None
    lex_rank: int | None = None
    chunk_ranks: list[int] = field(default_factory=list)
    type_match: bool = False
    """The sentence holds the kind of item the question asks for (a number for "how many")."""
    e5: float | None = None
    """The reranker's score (only the first fusion's top :data:`RERANK_TOP` have one)."""


@dataclass(frozen=True, slots=True)
class Fusion:
    """How candidates' signals become one score.

    ``rrf``: sum of ``weight / (k + rank)`` over the rankers that returned the sentence.
    ``minmax``: per query, min-max-normalised cosine plus ``lexical`` x min-max-normalised BM25
    (a sentence BM25 did not return scores 0 there).  ``e5``: the same over the reranker's score,
    ``lexical`` x BM25 and ``dense`` x the MiniLM cosine.  All add ``chunk`` x the reciprocal-rank
    vote of the top chunks that contain the sentence, and ``answer_type`` when the sentence holds
    what the question asks for.
    """

    method: Literal["rrf", "minmax", "dense", "lexical", "e5"] = "rrf"
    k: int = 10
    lexical: float = 1.0
    dense: float = 0.0
    """Weight of the min-max MiniLM cosine in ``e5`` (``minmax`` always weighs it 1)."""
    chunk: float = 0.1
    answer_type: float = 0.0


DEFAULT_FUSION = Fusion("rrf", k=10, lexical=1.0, chunk=0.1, answer_type=0.5)
RERANK_FUSION = Fusion("e5", lexical=1.0, chunk=0.0, answer_type=0.0)
"""How the reranked head is ordered: min-max(e5) + min-max(BM25) (docs/retrieval.md)."""


def _minmax(values: Mapping[Key, float]) -> dict[Key, float]:
    if not values:
        return {}
    lo, hi = min(values.values()), max(values.values())
    span = hi - lo
    return {k: (v - lo) / span if span > 1e-9 else 1.0 for k, v in values.items()}


def fuse(cands: Mapping[Key, Candidate], fusion: Fusion) -> dict[Key, float]:
    """One score per candidate (higher is better)."""
    out: dict[Key, float] = {}
    if fusion.method == "minmax":
        cos = _minmax({k: c.cos for k, c in cands.items() if c.cos is not None})
        lex = _minmax({k: c.bm25 for k, c in cands.items() if c.bm25 is not None})
        for key in cands:
            out[key] = cos.get(key, 0.0) + fusion.lexical * lex.get(key, 0.0)
        type_unit = 1.0
    elif fusion.method == "e5":
        e5 = _minmax({k: c.e5 for k, c in cands.items() if c.e5 is not None})
        cos = _minmax({k: c.cos for k, c in cands.items() if c.cos is not None}) if fusion.dense else {}
        lex = _minmax({k: c.bm25 for k, c in cands.items() if c.bm25 is not None})
        for key in cands:
            out[key] = e5.get(key, 0.0) + fusion.lexical * lex.get(key, 0.0) + fusion.dense * cos.get(key, 0.0)
        type_unit = 1.0
    elif fusion.method == "dense":
        out = {k: (c.cos if c.cos is not None else -1.0) for k, c in cands.items()}
        type_unit = 1.0
    elif fusion.method == "lexical":
        out = {k: (c.bm25 if c.bm25 is not None else 0.0) for k, c in cands.items()}
        type_unit = 0.0
    else:
        for key, c in cands.items():
            s = 0.0
            if c.dense_rank is not None:
                s += 1.0 / (fusion.k + c.dense_rank)
            if c.lex_rank is not None:
                s += fusion.lexical / (fusion.k + c.lex_rank)
            out[key] = s
        type_unit = 1.0 / fusion.k  # a bonus worth a fraction of a first-rank vote
    vote_unit = fusion.k if fusion.method != "rrf" else 1.0  # a first-ranked chunk is worth `chunk`
    for key, c in cands.items():
        out[key] += fusion.chunk * vote_unit * sum(1.0 / (fusion.k + r) for r in c.chunk_ranks)
        if c.type_match:
            out[key] += fusion.answer_type * type_unit
    return out


def rerank_order(cands: Mapping[Key, Candidate], fused: Mapping[Key, float], head: list[Key],
                 fusion: Fusion = RERANK_FUSION) -> dict[Key, float]:
    """Every candidate of ``fused``, best first: ``head`` (which carry reranker scores) ordered by
    ``fusion`` over the head alone, then the rest in ``fused``'s order with scores scaled below
    the head's last (as :meth:`Retriever.second_hop` does), so callers may compare scores."""
    inner = fuse({key: cands[key] for key in head}, fusion)
    out = {key: inner[key] for key in sorted(inner, key=lambda key: -inner[key])}
    rest = sorted((key for key in fused if key not in out), key=lambda key: -fused[key])
    if rest:
        floor = min(out.values(), default=1.0)
        top = max(fused[rest[0]], 1e-9)
        out.update((key, floor * max(fused[key], 0.0) / top * 0.999) for key in rest)
    return out


def passage_text(row: Mapping[str, Any], title: bool = RERANK_TITLE) -> str:
    """What a reranker reads of a sentence row."""
    return f"{row['title']}: {row['text']}" if title and row["title"] else row["text"]


def score_head(catalog: BaseCatalog, reranker: Reranker, query: str, cands: Mapping[Key, Candidate],
               fused: Mapping[Key, float], *, title: bool = RERANK_TITLE) -> list[Key]:
    """Score the best :data:`RERANK_TOP` of ``fused`` (boilerplate left out) with ``reranker``,
    filling their ``e5``; that head, best first by ``fused``."""
    head = sorted(fused, key=lambda key: -fused[key])[:RERANK_TOP]
    rows = catalog.sentences_by_key(head)
    head = [key for key in head if (r := rows.get(key)) is not None and r["boilerplate"] is None]
    scores = reranker.score(query, [passage_text(rows[key], title) for key in head])
    for key, value in zip(head, scores, strict=True):
        cands[key].e5 = value
    return head


class Retriever:
    def __init__(self, catalog: BaseCatalog, collections: dict[str, Collection], embedder: Any,
                 reranker: Reranker | None = None) -> None:
        self.catalog = catalog
        self.chunks = collections[CHUNKS]
        self.sentences = collections[SENTENCES]
        self.embedder = embedder
        self.reranker = reranker

    def search(self, query: str, *, k: int = 8, filters: Filters | None = None,
               candidates: int = 40, fusion: Fusion = DEFAULT_FUSION) -> SearchResult:
        filters = filters or Filters()
        qvec = np.asarray(self.embedder.embed([query])[0], dtype=np.float32)
        cands, chunk_rows, visible = self.candidates(query, qvec, filters, candidates, chunks=max(k, 10))
        fused = fuse(cands, fusion)
        if self.reranker is not None:
            fused = self.rerank(query, cands, fused)
        top = sorted(fused, key=lambda key: -fused[key])[: max(k, 1) * 3]
        self.fill_cosines(top, cands, qvec, visible)
        rows = self.catalog.sentences_by_key(top)
        hits = [
            SentenceHit(aid, idx, r["text"], r["start"], r["end"], r["title"], r["url"], r["source"],
                        r["published_iso"], round(fused[(aid, idx)], 6), cands[(aid, idx)].cos,
                        cands[(aid, idx)].bm25)
            for aid, idx in top
            if (r := rows.get((aid, idx))) is not None and r["boilerplate"] is None
        ][:k]
        chunks = [ChunkHit(cid, meta["article_id"], doc, meta["sentence_ids"].split(","), round(sim, 6))
                  for cid, meta, doc, sim in chunk_rows[:k]]
        return SearchResult(query, hits, chunks)

    def rerank(self, query: str, cands: Mapping[Key, Candidate], fused: Mapping[Key, float]) -> dict[Key, float]:
        """:func:`score_head` with this retriever's reranker; :func:`rerank_order` of all of them."""
        assert self.reranker is not None
        return rerank_order(cands, fused, score_head(self.catalog, self.reranker, query, cands, fused))

    def second_hop(self, question: str, first: list[SentenceHit], *, k: int, filters: Filters | None = None,
                   keep: int = FIRST_HOP_KEEP, min_dense: float = 0.0) -> list[SentenceHit]:
        """Multi-hop evidence: the first hop's best ``keep`` sentences, then what a search for the
        question *plus the best sentence* finds, then the rest of the first hop; ``k`` in all.

        The best sentence often names the bridge ("He played for the Tunisian national team")
        that the answer hangs on ("They qualified for their first World Cup in 1978"), which the
        question's words alone do not reach.  Second-hop scores are scaled below the kept ones,
        keeping their order; those less similar than ``min_dense`` to the second query are left
        out.  On the HotpotQA dev questions recall@10 of the gold sentences
        rose from 0.73 to 0.80, with RealTimeQA hit@10 0.51 -> 0.52 and tricky unchanged
        (docs/retrieval.md)."""
        if not first:
            return []
        head = first[:keep]
        more = self.search(f"{question} {first[0].text}", k=k, filters=filters).sentences
        seen = {h.id for h in head}
        more = [h for h in more if h.id not in seen and (h.dense is None or h.dense >= min_dense)]
        if more:
            floor, top = head[-1].score, max(h.score for h in more) or 1.0
            more = [replace(h, score=round(floor * h.score / top * 0.999, 6)) for h in more]
        seen.update(h.id for h in more)
        return [*head, *more, *(h for h in first[keep:] if h.id not in seen)][:k]

    def candidates(self, query: str, qvec: np.ndarray, filters: Filters, n: int, *, chunks: int = 10,
                   title_weight: float = TITLE_WEIGHT) -> tuple[dict[Key, Candidate], list[ChunkRow], dict[str, str]]:
        """Signals of the top ``n`` dense and top ``n`` BM25 sentences and of the sentences of
        the top ``chunks`` chunks; the chunk rows; the visible version of each article seen."""
        where = filters.chroma_where()
        # sentence texts come from the catalogue when needed (sentence rows carry no document)
        dense = self._dense(self.sentences, qvec, n, where, documents=False)
        chunk_rows = self._dense(self.chunks, qvec, chunks, where)
        lexical = self.catalog.lexical_search(query, filters, n, title_weight=title_weight)
        if lexical:  # BM25 gives near-zero scores to terms found everywhere: not evidence
            floor = LEXICAL_MIN_SHARE * lexical[0][2]
            lexical = [hit for hit in lexical if hit[2] >= floor]

        # visible versions only (a half-written or replaced article has stale vectors)
        ids = {m["article_id"] for _, m, _, _ in dense} | {m["article_id"] for _, m, _, _ in chunk_rows}
        visible = self.catalog.visible_versions(list(ids))
        dense = [d for d in dense if visible.get(d[1]["article_id"]) == d[1]["version"]]
        chunk_rows = [c for c in chunk_rows if visible.get(c[1]["article_id"]) == c[1]["version"]]

        qtype = question_type(query)
        cands: dict[Key, Candidate] = {}

        def cand(key: Key) -> Candidate:
            return cands.setdefault(key, Candidate())

        for rank, (_, meta, _, sim) in enumerate(dense):
            key = (meta["article_id"], int(meta["sentence_index"]))
            c = cand(key)
            c.cos, c.dense_rank = sim, rank
        for rank, (aid, idx, score) in enumerate(lexical):
            c = cand((aid, idx))
            c.bm25, c.lex_rank = score, rank
        for rank, (_, meta, _, _) in enumerate(chunk_rows):
            for sid in meta["sentence_ids"].split(","):
                aid, _, idx = sid.rpartition(":")
                cand((aid, int(idx))).chunk_ranks.append(rank)
        if qtype is not QuestionType.OTHER:
            texts = {key: r["text"] for key, r in self.catalog.sentences_by_key(list(cands)).items()}
            for key, c in cands.items():
                c.type_match = answer_type_match(qtype, texts.get(key, ""))
        return cands, chunk_rows, visible

    def _dense(self, coll: Collection, qvec: np.ndarray, n: int,
               where: dict[str, Any] | None, *, documents: bool = True) -> list[ChunkRow]:
        include: list[Any] = ["metadatas", "distances", *(["documents"] if documents else [])]
        res = coll.query(query_embeddings=[qvec.tolist()], n_results=n, where=where, include=include)
        ids, metas, dists = res["ids"][0], (res["metadatas"] or [[]])[0], (res["distances"] or [[]])[0]
        docs = (res["documents"] or [[]])[0] if documents else [""] * len(ids)
        return [(i, dict(m or {}), d or "", 1.0 - float(dist))
                for i, m, d, dist in zip(ids, metas, docs, dists, strict=True)]

    def fill_cosines(self, keys: list[Key], cands: Mapping[Key, Candidate], qvec: np.ndarray,
                     visible: dict[str, str]) -> None:
        """Dense similarity for candidates found only lexically or through a chunk."""
        missing = [k for k in keys if cands[k].cos is None]
        if not missing:
            return
        more = self.catalog.visible_versions([a for a, _ in missing if a not in visible])
        versions = {**visible, **more}
        ids = [f"{a}@{versions[a]}:{i}" for a, i in missing if a in versions]
        if not ids:
            return
        got = self.sentences.get(ids=ids, include=["embeddings", "metadatas"])
        embs = got["embeddings"] if got["embeddings"] is not None else []
        for emb, meta in zip(embs, got["metadatas"] or [], strict=True):
            key = (str(meta["article_id"]), int(cast(int, meta["sentence_index"])))
            cands[key].cos = float(np.dot(np.asarray(emb, dtype=np.float32), qvec))
