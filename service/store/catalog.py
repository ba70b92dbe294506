"""The article catalogue: SQLite beside Chroma (the embedded engine; PostgreSQL's is
service/store/pg_catalog.py, and both share service/store/catalog_base.py).

It holds every article's text and sentences (with offsets and boilerplate reasons), an FTS5
index of the indexed sentences for BM25, and a write journal.  An article is *visible* only
once its row is in ``articles``; that row is written in the same transaction as its sentences
and only after all of its vectors are in Chroma.  Vector hits whose version is not the visible
one are ignored, so a crash at any point never shows half an article.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from service.ingest.article import ProcessedArticle
from service.store import sqlite
from service.store.catalog_base import TITLE_WEIGHT, BaseCatalog, Filters, epoch, query_terms

_FTS_SCHEMA = """CREATE VIRTUAL TABLE IF NOT EXISTS sentence_fts USING fts5(
        text, title, article_id UNINDEXED, idx UNINDEXED, tokenize='porter unicode61')"""
_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS articles (
        id TEXT PRIMARY KEY, title TEXT NOT NULL, url TEXT, source TEXT NOT NULL,
        published_at INTEGER, published_iso TEXT, text TEXT NOT NULL,
        content_hash TEXT NOT NULL, version TEXT NOT NULL,
        sentence_count INTEGER NOT NULL, chunk_count INTEGER NOT NULL,
        ingested_at TEXT NOT NULL, updated_at TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS articles_source ON articles(source)",
    "CREATE INDEX IF NOT EXISTS articles_published ON articles(published_at)",
    """CREATE TABLE IF NOT EXISTS sentences (
        article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        idx INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL,
        text TEXT NOT NULL, boilerplate TEXT, PRIMARY KEY (article_id, idx))""",
    _FTS_SCHEMA,
    """CREATE TABLE IF NOT EXISTS journal (
        article_id TEXT PRIMARY KEY, op TEXT NOT NULL, state TEXT NOT NULL,
        payload TEXT, started_at TEXT NOT NULL)""",
    # near-duplicates (service/ingest/duplicates.py): MinHash band hashes, and symmetric copy links
    """CREATE TABLE IF NOT EXISTS article_bands (
        band INTEGER NOT NULL, hash INTEGER NOT NULL, article_id TEXT NOT NULL,
        PRIMARY KEY (band, hash, article_id)) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS article_bands_article ON article_bands(article_id)",
    """CREATE TABLE IF NOT EXISTS article_copies (
        article_id TEXT NOT NULL, other_id TEXT NOT NULL, containment REAL NOT NULL, linked_at TEXT NOT NULL,
        PRIMARY KEY (article_id, other_id)) WITHOUT ROWID""",
]

__all__ = ["TITLE_WEIGHT", "BaseCatalog", "Catalog", "Filters", "epoch"]


def _migrate_fts(c: sqlite3.Connection) -> None:
    """Catalogues from before the headline column: rebuild the FTS index with it."""
    cols = [r[1] for r in c.execute("PRAGMA table_info(sentence_fts)").fetchall()]
    if not cols or "title" in cols:
        return
    c.execute("DROP TABLE sentence_fts")
    c.execute(_FTS_SCHEMA)
    c.execute("INSERT INTO sentence_fts(text, title, article_id, idx) SELECT s.text, a.title, s.article_id, s.idx "
              "FROM sentences s JOIN articles a ON a.id = s.article_id WHERE s.boilerplate IS NULL")


class Catalog(BaseCatalog):
    """The catalogue in one SQLite file, with FTS5 for BM25."""

    def __init__(self, path: Path, *, busy_timeout_s: float = 30.0) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        # WAL: readers in every worker see the last committed state while one process writes;
        # the busy timeout makes a second writer wait for the first instead of failing.
        self._conn = sqlite.connect(path, timeout_s=busy_timeout_s, foreign_keys=True, any_thread=True)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        with self.transaction() as c:
            _migrate_fts(c)
            for stmt in _SCHEMA:
                c.execute(stmt)

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock, sqlite.transaction(self._conn) as conn:
            yield conn

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads inside see one committed state, even while another process publishes."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                yield
            finally:
                self._conn.execute("COMMIT")

    def journal_mode(self) -> str:
        return str(self._query("PRAGMA journal_mode")[0][0])

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, args).fetchall()

    def lexical_search(self, query: str, filters: Filters, k: int, *,
                       title_weight: float = TITLE_WEIGHT) -> list[tuple[str, int, float]]:
        """BM25 over indexed sentences (and, at ``title_weight``, their article's headline):
        (article_id, idx, score), best first, higher is better."""
        terms = query_terms(query)
        if not terms:
            return []
        match = " OR ".join(f'"{t}"' for t in terms)  # quoted: no FTS syntax injection
        if filters == Filters() and title_weight == TITLE_WEIGHT:
            # FTS5 can stop early on ORDER BY rank LIMIT when nothing is joined.  The ranking is
            # named in the query, not stored with the 'rank' config command: a config write by
            # another connection (another worker opening the catalogue) makes every connection
            # that has already run an ORDER BY rank query fail with "SQL logic error".
            sql = ("SELECT article_id, idx, rank AS score FROM sentence_fts WHERE sentence_fts MATCH ? "
                   f"AND rank MATCH 'bm25(1.0, {TITLE_WEIGHT})' ORDER BY rank LIMIT ?")
            rows = self._query(sql, [match, k])
        else:
            where, args = filters.sql("a")
            rows = self._query(
                f"SELECT f.article_id, f.idx, bm25(sentence_fts, 1.0, ?) AS score FROM sentence_fts f "
                f"JOIN articles a ON a.id = f.article_id WHERE sentence_fts MATCH ? AND {where} "
                f"ORDER BY score LIMIT ?",
                [title_weight, match, *args, k],
            )
        return [(r["article_id"], int(r["idx"]), -float(r["score"])) for r in rows]

    def _unindex(self, c: sqlite3.Connection, article_id: str) -> None:
        c.execute("DELETE FROM sentence_fts WHERE article_id=?", (article_id,))

    def _index(self, c: sqlite3.Connection, art: ProcessedArticle) -> None:
        c.executemany(
            "INSERT INTO sentence_fts(text, title, article_id, idx) VALUES (?,?,?,?)",
            [(s.text, art.context_title or "", art.id, s.index) for s in art.indexed],
        )
