"""Writing articles: catalogue + Chroma, in an order that survives a crash anywhere.

    1. journal the input                          (catalogue; invisible)
    2. upsert the new version's vectors            (Chroma; ids carry the version)
    3. publish: article row + sentences + FTS      (one catalogue transaction; now visible)
    4. delete vectors of older versions            (Chroma; one call per collection for the
                                                    updated articles of a batch, none for new ones)
    5. clear the journal entry

Readers ignore vectors whose version is not the published one, so between any two steps the
article is either entirely the old version, entirely the new one, or absent.  ``repair()``
replays unfinished journal entries; it runs at start-up and at the top of every ingest run.

Vectors (step 2) are per sentence by default (``sentence_vectors="separate"``): every sentence is
embedded alone (the only way for an embedder without token outputs, such as an OpenAI endpoint)
and a chunk's vector is the length-weighted mean of its sentences' vectors.  ``"late"`` chunks
late: the model runs once over the article's indexed sentences, in windows of
``late_window_tokens`` WordPiece tokens cut at sentence boundaries, and each sentence's vector
is the mean of its own tokens' outputs, computed in the context of its window.  A chunk's
vector is then the mean over the tokens of its sentences.  With ``late_window_tokens=0`` each
chunk is a window of its own (its vector is then exactly the chunk's embedding, and a sentence
in two overlapping chunks pools both).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np
from chromadb.api.models.Collection import Collection
from chromadb.api.types import Where

from service.errors import NotFound
from service.ingest.article import ArticleInput, ProcessedArticle, join_sentences, process
from service.store.catalog_base import BaseCatalog, epoch
from service.store.writelock import ExclusiveLock, WriterLock
from vectorstore.client import CHUNKS, SENTENCES

log = logging.getLogger(__name__)
Status = Literal["created", "updated", "unchanged"]
SentenceVectors = Literal["late", "separate"]
_UPSERT_BATCH = 4000  # below Chroma's default max batch size (5461)
_DELETE_GROUP = 200  # articles per delete call (see _delete_vectors)
Key = tuple[str, int]


@dataclass(frozen=True, slots=True)
class IngestResult:
    id: str
    status: Status
    sentences: int
    chunks: int
    boilerplate: int


def sentence_vector_id(article_id: str, version: str, idx: int) -> str:
    return f"{article_id}@{version}:{idx}"


def chunk_vector_id(article_id: str, version: str, n: int) -> str:
    return f"{article_id}@{version}#c{n}"


class ArticleStore:
    def __init__(self, catalog: BaseCatalog, collections: dict[str, Collection], embedder: Any, *,
                 chunk_tokens: int, overlap_tokens: int, encoding: str = "cl100k_base",
                 lock: ExclusiveLock | None = None, sentence_vectors: SentenceVectors = "separate",
                 late_window_tokens: int = 64) -> None:
        self.catalog = catalog
        self.chunks = collections[CHUNKS]
        self.sentences = collections[SENTENCES]
        self.embedder = embedder
        self.chunk_tokens = chunk_tokens
        self.overlap_tokens = overlap_tokens
        self.encoding = encoding
        self.sentence_vectors = sentence_vectors
        self.late_window_tokens = late_window_tokens
        # One writer at a time across threads and, with a lock from service/store/engine.py, across
        # processes (workers) or machines (nodes).
        self._write_lock = lock if lock is not None else WriterLock(None)
        # Test seam: called between the vector writes and the publish transaction.
        self.before_publish: Callable[[ProcessedArticle], None] | None = None

    def process(self, item: ArticleInput) -> ProcessedArticle:
        return process(item, max_tokens=self.chunk_tokens, overlap_tokens=self.overlap_tokens,
                       encoding=self.encoding)

    # -- ingest --------------------------------------------------------------------------
    def ingest(self, item: ArticleInput) -> IngestResult:
        return self.ingest_many([item])[0]

    def ingest_many(self, items: list[ArticleInput]) -> list[IngestResult]:
        """Ingest validated articles; embeddings are batched across the whole list.

        Unfinished writes from an earlier failure are repaired first.
        """
        arts = [self.process(it) for it in items]
        with self._write_lock:
            # under the lock, a journal entry is never another writer's write in progress
            repaired = self._repair_locked() if self.catalog.journal_pending() else {}
            results: list[IngestResult | None] = [None] * len(arts)
            todo: list[tuple[int, ProcessedArticle, Status]] = []
            for i, (it, art) in enumerate(zip(items, arts, strict=True)):
                current = self.catalog.current_hash(art.id)
                if current == art.content_hash:
                    # an interrupted write of this very content, finished just now, is reported
                    # as what it was meant to be rather than as "unchanged"
                    finished = repaired.get(art.id)
                    results[i] = _result(art, finished[1] if finished and finished[0] == current else "unchanged")
                    continue
                todo.append((i, art, "updated" if current else "created"))
                self.catalog.journal_begin(art.id, "upsert", {"input": it.model_dump(mode="json"), "id": art.id})
            if todo:
                self._write_vectors([a for _, a, _ in todo])
                stale: dict[str, str | None] = {}
                for i, art, status in todo:
                    self._publish(art)
                    results[i] = _result(art, status)
                    if status == "created":  # no older version: nothing to delete
                        self.catalog.journal_done(art.id)
                    else:
                        stale[art.id] = art.version
                if stale:  # older versions of the whole batch, one delete per collection
                    self._delete_vectors(stale)
                    for aid in stale:
                        self.catalog.journal_done(aid)
        return [r for r in results if r is not None]

    def _publish(self, art: ProcessedArticle) -> None:
        if self.before_publish is not None:
            self.before_publish(art)
        self.catalog.publish(art)

    def _write_vectors(self, arts: list[ProcessedArticle]) -> None:
        if self.sentence_vectors == "late" and hasattr(self.embedder, "embed_late"):
            sent_vecs, chunk_vecs = self._late_vectors(arts)
        else:
            sent_vecs, chunk_vecs = self._separate_vectors(arts)
        # One upsert per collection for the whole list, not one per article: every Chroma
        # add/upsert call has a fixed cost (chromadb 1.5 rebuilds the collection's embedding
        # function from its stored config on each call).  Sentence rows carry no document: the
        # text is in the catalogue, and a document would only feed Chroma's own full-text index,
        # which nothing queries (it was ~20% of the sentence upserts' time).
        s_rows: dict[str, list[Any]] = {"ids": [], "embeddings": [], "metadatas": []}
        c_rows: dict[str, list[Any]] = {"ids": [], "embeddings": [], "documents": [], "metadatas": []}
        for art in arts:
            meta = _article_meta(art)
            for s in art.indexed:
                s_rows["ids"].append(sentence_vector_id(art.id, art.version, s.index))
                s_rows["embeddings"].append(sent_vecs[(art.id, s.index)])
                s_rows["metadatas"].append({**meta, "sentence_index": s.index})
            for ch in art.chunks:
                c_rows["ids"].append(chunk_vector_id(art.id, art.version, ch.index))
                c_rows["embeddings"].append(chunk_vecs[(art.id, ch.index)])
                c_rows["documents"].append(ch.text)
                c_rows["metadatas"].append({
                    **meta, "chunk_index": ch.index, "first_sentence": ch.sentence_indexes[0],
                    "last_sentence": ch.sentence_indexes[-1], "tokens": ch.tokens,
                    "sentence_ids": ",".join(art.sentence_id(i) for i in ch.sentence_indexes)})
        for coll, rows in ((self.sentences, s_rows), (self.chunks, c_rows)):
            for start in range(0, len(rows["ids"]), _UPSERT_BATCH):
                coll.upsert(**{k: v[start : start + _UPSERT_BATCH] for k, v in rows.items()})

    def _late_vectors(self, arts: list[ProcessedArticle]) -> tuple[dict[Key, np.ndarray], dict[Key, np.ndarray]]:
        """Sentence and chunk vectors from one model pass over each article (or each chunk)."""
        dim = int(getattr(self.embedder, "dimensions", 384))
        texts: list[str] = []
        spans: list[list[tuple[int, int]]] = []
        owners: list[tuple[ProcessedArticle, list[int], int | None]] = []  # (article, sentences, chunk)
        parts: list[tuple[list[int], int | None]]
        for art in arts:
            by_index = {s.index: s for s in art.indexed}
            if not by_index:
                continue
            if self.late_window_tokens:
                parts = [(list(by_index), None)]
            else:
                parts = [(list(ch.sentence_indexes), ch.index) for ch in art.chunks]
            for idxs, chunk_index in parts:
                text, text_spans = join_sentences([by_index[i].text for i in idxs])
                texts.append(text)
                spans.append(text_spans)
                owners.append((art, idxs, chunk_index))
        window = self.late_window_tokens or 254
        pooled = self.embedder.embed_late(texts, spans, window_tokens=window) if texts else []
        sums: dict[Key, np.ndarray] = {}
        counts: dict[Key, int] = {}
        chunk_vecs: dict[Key, np.ndarray] = {}
        for (art, idxs, chunk_index), p in zip(owners, pooled, strict=True):
            for i, vec, n in zip(idxs, p.span_sums, p.span_tokens, strict=True):
                key = (art.id, i)
                sums[key] = sums[key] + vec if key in sums else vec.copy()
                counts[key] = counts.get(key, 0) + int(n)
            if chunk_index is not None:
                chunk_vecs[(art.id, chunk_index)] = p.vector
        # a sentence with no WordPiece token of its own (nothing the tokenizer keeps) is embedded alone
        empty = [(art.id, s.index, s.text) for art in arts for s in art.indexed if not counts.get((art.id, s.index))]
        alone = self.embedder.embed([t for _, _, t in empty]) if empty else np.zeros((0, dim))
        sent_vecs = {key: _unit(v) for key, v in sums.items() if counts[key]}
        sent_vecs.update({(aid, i): v for (aid, i, _), v in zip(empty, alone, strict=True)})
        if self.late_window_tokens:
            for art in arts:
                for ch in art.chunks:
                    keys = [(art.id, i) for i in ch.sentence_indexes]
                    tokens = sum(counts.get(k, 0) for k in keys)
                    v = sum(sums[k] for k in keys) if tokens else sum(sent_vecs[k] for k in keys)
                    chunk_vecs[(art.id, ch.index)] = _unit(np.asarray(v, dtype=np.float32))
        return sent_vecs, chunk_vecs

    def _separate_vectors(self, arts: list[ProcessedArticle]) -> tuple[dict[Key, np.ndarray], dict[Key, np.ndarray]]:
        """Every sentence embedded alone; a chunk's vector is the length-weighted mean of its
        sentences' vectors (every sentence is embedded once, chunks cost no second pass)."""
        sents = [(a, s) for a in arts for s in a.indexed]
        vectors = self.embedder.embed([s.text for _, s in sents]) if sents else np.zeros((0, 1))
        by_key = {(a.id, s.index): vectors[n] for n, (a, s) in enumerate(sents)}
        chunk_vecs: dict[Key, np.ndarray] = {}
        for art in arts:
            weights = {s.index: max(1, len(s.text)) for s in art.indexed}
            for ch in art.chunks:
                w = np.array([weights[i] for i in ch.sentence_indexes], dtype=np.float32)
                v = (np.stack([by_key[(art.id, i)] for i in ch.sentence_indexes]) * w[:, None]).sum(0)
                chunk_vecs[(art.id, ch.index)] = _unit(v)
        return by_key, chunk_vecs

    def _delete_vectors(self, keep: Mapping[str, str | None]) -> None:
        """Delete the vectors of each article in ``keep`` except those of the version named
        (None: all of them), with one call per collection."""
        clauses: list[Where] = []
        for article_id, version in keep.items():
            if version is None:
                clauses.append({"article_id": article_id})
            else:
                clauses.append(cast(Where, {"$and": [{"article_id": article_id}, {"version": {"$ne": version}}]}))
        # Chroma turns an $or into one SQLite expression, whose depth is capped at 1000: ~500
        # clauses fail, so a large batch is deleted in groups.
        for start in range(0, len(clauses), _DELETE_GROUP):
            group = clauses[start : start + _DELETE_GROUP]
            where: Where = group[0] if len(group) == 1 else {"$or": group}
            for coll in (self.sentences, self.chunks):
                coll.delete(where=where)

    # -- delete & repair -------------------------------------------------------------------
    def delete(self, article_id: str) -> None:
        with self._write_lock:
            if self.catalog.current_hash(article_id) is None:
                raise NotFound(f"article {article_id!r} does not exist")
            self.catalog.journal_begin(article_id, "delete", None)
            self.catalog.unpublish(article_id)
            self._delete_vectors({article_id: None})
            self.catalog.journal_done(article_id)

    def repair(self) -> int:
        """Finish or roll forward every interrupted write. Returns how many were repaired."""
        with self._write_lock:
            pending = len(self.catalog.journal_pending())
            self._repair_locked()
        return pending

    def _repair_locked(self) -> dict[str, tuple[str, Status]]:
        """Repair (the caller holds the writer lock, so every entry is an interrupted write);
        return {article_id: (content_hash, created|updated)} for finished upserts."""
        done: dict[str, tuple[str, Status]] = {}
        for entry in self.catalog.journal_pending():
            aid = entry["article_id"]
            log.warning("repairing interrupted %s of article %s (state %s)", entry["op"], aid, entry["state"])
            if entry["op"] == "delete":
                self.catalog.unpublish(aid)
                self._delete_vectors({aid: None})
                self.catalog.journal_done(aid)
                continue
            item = ArticleInput.model_validate(json.loads(entry["payload"])["input"])
            art = self.process(item)
            current = self.catalog.current_hash(aid)
            if entry["state"] != "published" or current != art.content_hash:
                self._write_vectors([art])
                self.catalog.publish(art)
            self._delete_vectors({aid: art.version})
            self.catalog.journal_done(aid)
            done[aid] = (art.content_hash, "updated" if current else "created")
        return done

    def stats(self) -> dict[str, int]:
        vectors = {"chunk_vectors": self.chunks.count(), "sentence_vectors": self.sentences.count()}
        return {**self.catalog.stats(), **vectors}


def _article_meta(art: ProcessedArticle) -> dict[str, Any]:
    meta: dict[str, Any] = {"article_id": art.id, "version": art.version, "title": art.title, "source": art.source}
    if art.url:
        meta["url"] = art.url
    ts = epoch(art.published_at)
    if ts is not None:
        meta["published_at"] = ts
    return meta


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / max(float(np.linalg.norm(v)), 1e-12)).astype(np.float32)


def _result(art: ProcessedArticle, status: Status) -> IngestResult:
    return IngestResult(art.id, status, len(art.indexed), len(art.chunks),
                        sum(1 for s in art.sentences if s.boilerplate))
