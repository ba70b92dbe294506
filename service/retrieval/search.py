"""Hybrid retrieval: dense (Chroma, sentences and chunks) + lexical (BM25 over sentences, in
the catalogue's FTS5 index), fused by reciprocal rank, filtered to visible articles.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from chromadb.api.models.Collection import Collection

from service.store.catalog import Catalog, Filters
from vectorstore.client import CHUNKS, SENTENCES

RRF_K = 10  # small k: with short candidate lists the top ranks must count
CHUNK_VOTE = 0.1  # a sentence in a top chunk gets this fraction of a direct hit's vote
LEXICAL_MIN_SHARE = 0.15  # BM25 hits below this share of the best BM25 score are dropped


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


class Retriever:
    def __init__(self, catalog: Catalog, collections: dict[str, Collection], embedder: Any) -> None:
        self.catalog = catalog
        self.chunks = collections[CHUNKS]
        self.sentences = collections[SENTENCES]
        self.embedder = embedder

    def search(self, query: str, *, k: int = 8, filters: Filters | None = None,
               candidates: int = 40) -> SearchResult:
        filters = filters or Filters()
        qvec = np.asarray(self.embedder.embed([query])[0], dtype=np.float32)
        where = filters.chroma_where()
        dense = self._dense(self.sentences, qvec, candidates, where)
        chunk_rows = self._dense(self.chunks, qvec, max(k, 10), where)
        lexical = self.catalog.lexical_search(query, filters, candidates)
        if lexical:  # BM25 gives near-zero scores to terms found everywhere: not evidence
            floor = LEXICAL_MIN_SHARE * lexical[0][2]
            lexical = [hit for hit in lexical if hit[2] >= floor]

        # visible versions only (a half-written or replaced article has stale vectors)
        ids = {m["article_id"] for _, m, _, _ in dense} | {m["article_id"] for _, m, _, _ in chunk_rows}
        visible = self.catalog.visible_versions(list(ids))
        dense = [d for d in dense if visible.get(d[1]["article_id"]) == d[1]["version"]]
        chunk_rows = [c for c in chunk_rows if visible.get(c[1]["article_id"]) == c[1]["version"]]

        fused: dict[tuple[str, int], float] = {}
        cos: dict[tuple[str, int], float] = {}
        lex: dict[tuple[str, int], float] = {}
        for rank, (_, meta, _, sim) in enumerate(dense):
            key = (meta["article_id"], int(meta["sentence_index"]))
            fused[key] = fused.get(key, 0.0) + 1.0 / (RRF_K + rank)
            cos[key] = sim
        for rank, (aid, idx, score) in enumerate(lexical):
            key = (aid, idx)
            fused[key] = fused.get(key, 0.0) + 1.0 / (RRF_K + rank)
            lex[key] = score
        # sentences of the best chunks get a (weaker) vote: context around a hit matters
        for rank, (_, meta, _, _) in enumerate(chunk_rows):
            for sid in meta["sentence_ids"].split(","):
                aid, _, idx = sid.rpartition(":")
                key = (aid, int(idx))
                fused[key] = fused.get(key, 0.0) + CHUNK_VOTE / (RRF_K + rank)

        top = sorted(fused, key=lambda key: -fused[key])[: max(k, 1) * 3]
        self._fill_cosines(top, cos, qvec, visible)
        rows = self.catalog.sentences_by_key(top)
        hits = [
            SentenceHit(aid, idx, r["text"], r["start"], r["end"], r["title"], r["url"], r["source"],
                        r["published_iso"], round(fused[(aid, idx)], 6), cos.get((aid, idx)), lex.get((aid, idx)))
            for aid, idx in top
            if (r := rows.get((aid, idx))) is not None and r["boilerplate"] is None
        ][:k]
        chunks = [ChunkHit(cid, meta["article_id"], doc, meta["sentence_ids"].split(","), round(sim, 6))
                  for cid, meta, doc, sim in chunk_rows[:k]]
        return SearchResult(query, hits, chunks)

    def _dense(self, coll: Collection, qvec: np.ndarray, n: int,
               where: dict[str, Any] | None) -> list[tuple[str, dict[str, Any], str, float]]:
        res = coll.query(query_embeddings=[qvec.tolist()], n_results=n, where=where,
                         include=["metadatas", "documents", "distances"])
        return [(i, dict(m or {}), d or "", 1.0 - float(dist))
                for i, m, d, dist in zip(res["ids"][0], res["metadatas"][0], res["documents"][0],
                                         res["distances"][0], strict=True)]

    def _fill_cosines(self, keys: list[tuple[str, int]], cos: dict[tuple[str, int], float],
                      qvec: np.ndarray, visible: dict[str, str]) -> None:
        """Dense similarity for hits found only lexically (the relevance floor needs it)."""
        missing = [k for k in keys if k not in cos]
        if not missing:
            return
        more = self.catalog.visible_versions([a for a, _ in missing if a not in visible])
        versions = {**visible, **more}
        ids = [f"{a}@{versions[a]}:{i}" for a, i in missing if a in versions]
        if not ids:
            return
        got = self.sentences.get(ids=ids, include=["embeddings", "metadatas"])
        for emb, meta in zip(got["embeddings"], got["metadatas"], strict=True):
            key = (meta["article_id"], int(meta["sentence_index"]))
            cos[key] = float(np.dot(np.asarray(emb, dtype=np.float32), qvec))
