"""The article catalogue: SQLite beside Chroma.

It holds every article's text and sentences (with offsets and boilerplate reasons), an FTS5
index of the indexed sentences for BM25, and a write journal.  An article is *visible* only
once its row is in ``articles``; that row is written in the same transaction as its sentences
and only after all of its vectors are in Chroma.  Vector hits whose version is not the visible
one are ignored, so a crash at any point never shows half an article.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from service.ingest.article import ProcessedArticle

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
    """CREATE VIRTUAL TABLE IF NOT EXISTS sentence_fts USING fts5(
        text, article_id UNINDEXED, idx UNINDEXED, tokenize='porter unicode61')""",
    """CREATE TABLE IF NOT EXISTS journal (
        article_id TEXT PRIMARY KEY, op TEXT NOT NULL, state TEXT NOT NULL,
        payload TEXT, started_at TEXT NOT NULL)""",
]

_STOP = frozenset(
    "a an and are as at be by did do does for from had has have he her his how i in is it its "
    "of on or she that the their them they this to was were what when where which who whom why "
    "will with would you your according said say says".split()
)


@dataclass(frozen=True, slots=True)
class Filters:
    """Retrieval and listing filters; epoch seconds for dates."""

    sources: tuple[str, ...] = ()
    article_ids: tuple[str, ...] = ()
    since: int | None = None
    until: int | None = None

    def sql(self, alias: str = "a") -> tuple[str, list[Any]]:
        clauses: list[str] = []
        args: list[Any] = []
        if self.sources:
            clauses.append(f"{alias}.source IN ({','.join('?' * len(self.sources))})")
            args += self.sources
        if self.article_ids:
            clauses.append(f"{alias}.id IN ({','.join('?' * len(self.article_ids))})")
            args += self.article_ids
        if self.since is not None:
            clauses.append(f"{alias}.published_at >= ?")
            args.append(self.since)
        if self.until is not None:
            clauses.append(f"{alias}.published_at < ?")
            args.append(self.until)
        return (" AND ".join(clauses) or "1=1"), args

    def chroma_where(self) -> dict[str, Any] | None:
        parts: list[dict[str, Any]] = []
        if self.sources:
            parts.append({"source": {"$in": list(self.sources)}})
        if self.article_ids:
            parts.append({"article_id": {"$in": list(self.article_ids)}})
        if self.since is not None:
            parts.append({"published_at": {"$gte": self.since}})
        if self.until is not None:
            parts.append({"published_at": {"$lt": self.until}})
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else {"$and": parts}


def epoch(dt: datetime | None) -> int | None:
    return None if dt is None else int(dt.timestamp())


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Catalog:
    def __init__(self, path: Path, *, busy_timeout_s: float = 30.0) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        # WAL: readers in every worker see the last committed state while one process writes;
        # the busy timeout makes a second writer wait for the first instead of failing.
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=busy_timeout_s)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        with self.transaction() as c:
            for stmt in _SCHEMA:
                c.execute(stmt)

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

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

    # -- reads ---------------------------------------------------------------------------
    def current_hash(self, article_id: str) -> str | None:
        rows = self._query("SELECT content_hash FROM articles WHERE id=?", (article_id,))
        return rows[0]["content_hash"] if rows else None

    def get_article(self, article_id: str) -> dict[str, Any] | None:
        with self.snapshot():  # the row and its sentences from the same version
            rows = self._query("SELECT * FROM articles WHERE id=?", (article_id,))
            if not rows:
                return None
            art = dict(rows[0])
            art["sentences"] = [dict(r) for r in self._query(
                'SELECT idx, start, "end", text, boilerplate FROM sentences WHERE article_id=? ORDER BY idx',
                (article_id,))]
        return art

    def list_articles(self, filters: Filters, *, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        where, args = filters.sql("a")
        total = self._query(f"SELECT COUNT(*) AS n FROM articles a WHERE {where}", args)[0]["n"]
        rows = self._query(
            f"SELECT id, title, url, source, published_iso, sentence_count, chunk_count, updated_at "
            f"FROM articles a WHERE {where} ORDER BY COALESCE(published_at, 0) DESC, id LIMIT ? OFFSET ?",
            [*args, limit, offset],
        )
        return [dict(r) for r in rows], total

    def visible_versions(self, article_ids: Sequence[str]) -> dict[str, str]:
        ids = list(set(article_ids))
        out: dict[str, str] = {}
        for i in range(0, len(ids), 500):
            part = ids[i : i + 500]
            for r in self._query(f"SELECT id, version FROM articles WHERE id IN ({','.join('?' * len(part))})", part):
                out[r["id"]] = r["version"]
        return out

    def sentences_by_key(self, keys: Sequence[tuple[str, int]]) -> dict[tuple[str, int], dict[str, Any]]:
        """Sentence rows joined with their article's metadata, for visible articles only."""
        out: dict[tuple[str, int], dict[str, Any]] = {}
        for i in range(0, len(keys), 400):
            part = keys[i : i + 400]
            cond = " OR ".join("(s.article_id=? AND s.idx=?)" for _ in part)
            args = [x for k in part for x in k]
            for r in self._query(
                f'SELECT s.article_id, s.idx, s.start, s."end", s.text, s.boilerplate, a.title, a.url, '
                f"a.source, a.published_iso, a.published_at FROM sentences s JOIN articles a ON a.id=s.article_id "
                f"WHERE {cond}", args):
                out[(r["article_id"], r["idx"])] = dict(r)
        return out

    def quotes(self, keys: Sequence[tuple[str, int]]) -> dict[tuple[str, int], str]:
        """``article.text[start:end]`` for each (article_id, idx), sliced from the stored text."""
        out: dict[tuple[str, int], str] = {}
        for i in range(0, len(keys), 400):
            part = keys[i : i + 400]
            cond = " OR ".join("(s.article_id=? AND s.idx=?)" for _ in part)
            rows = self._query(
                f'SELECT s.article_id, s.idx, s.start, s."end", a.text FROM sentences s '
                f"JOIN articles a ON a.id=s.article_id WHERE {cond}", [x for k in part for x in k])
            for r in rows:
                out[(r["article_id"], r["idx"])] = r["text"][r["start"] : r["end"]]
        return out

    def article_sentences(self, article_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Indexed sentences of the given visible articles, in reading order."""
        if not article_ids:
            return []
        marks = ",".join("?" * len(article_ids))
        return [dict(r) for r in self._query(
            f'SELECT s.article_id, s.idx, s.start, s."end", s.text, a.title, a.url, a.source, a.published_iso, '
            f"a.published_at FROM sentences s JOIN articles a ON a.id=s.article_id "
            f"WHERE s.article_id IN ({marks}) AND s.boilerplate IS NULL ORDER BY s.article_id, s.idx",
            list(article_ids))]

    def lexical_search(self, query: str, filters: Filters, k: int) -> list[tuple[str, int, float]]:
        """BM25 over indexed sentences: (article_id, idx, score), best first, higher is better."""
        terms = [t for t in re.findall(r"\w+", query.lower()) if t not in _STOP]
        if not terms:
            return []
        match = " OR ".join(f'"{t}"' for t in dict.fromkeys(terms))  # quoted: no FTS syntax injection
        if filters == Filters():  # FTS5 can stop early on ORDER BY rank LIMIT when nothing is joined
            sql = ("SELECT article_id, idx, rank AS score FROM sentence_fts WHERE sentence_fts MATCH ? "
                   "ORDER BY rank LIMIT ?")
            rows = self._query(sql, [match, k])
        else:
            where, args = filters.sql("a")
            rows = self._query(
                f"SELECT f.article_id, f.idx, bm25(sentence_fts) AS score FROM sentence_fts f "
                f"JOIN articles a ON a.id = f.article_id WHERE sentence_fts MATCH ? AND {where} "
                f"ORDER BY score LIMIT ?",
                [match, *args, k],
            )
        return [(r["article_id"], int(r["idx"]), -float(r["score"])) for r in rows]

    def stats(self) -> dict[str, int]:
        a = self._query("SELECT COUNT(*) AS n, COALESCE(SUM(sentence_count),0) AS s FROM articles")[0]
        j = self._query("SELECT COUNT(*) AS n FROM journal")[0]
        return {"articles": a["n"], "sentences": a["s"], "pending": j["n"]}

    # -- journal -------------------------------------------------------------------------
    def journal_begin(self, article_id: str, op: str, payload: dict[str, Any] | None) -> None:
        with self.transaction() as c:
            c.execute(
                "INSERT OR REPLACE INTO journal(article_id, op, state, payload, started_at) VALUES (?,?,?,?,?)",
                (article_id, op, "writing", json.dumps(payload) if payload is not None else None, _now()),
            )

    def journal_pending(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self._query("SELECT * FROM journal ORDER BY started_at")]

    def journal_done(self, article_id: str) -> None:
        with self.transaction() as c:
            c.execute("DELETE FROM journal WHERE article_id=?", (article_id,))

    # -- writes --------------------------------------------------------------------------
    def publish(self, art: ProcessedArticle) -> None:
        """Make ``art`` visible: one transaction swaps the article row and its sentences."""
        now = _now()
        with self.transaction() as c:
            prev = c.execute("SELECT ingested_at FROM articles WHERE id=?", (art.id,)).fetchone()
            c.execute("DELETE FROM sentence_fts WHERE article_id=?", (art.id,))
            c.execute("DELETE FROM sentences WHERE article_id=?", (art.id,))
            c.execute("DELETE FROM articles WHERE id=?", (art.id,))
            c.execute(
                "INSERT INTO articles VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (art.id, art.title, art.url, art.source, epoch(art.published_at),
                 art.published_at.isoformat() if art.published_at else None, art.text,
                 art.content_hash, art.version, len(art.indexed), len(art.chunks),
                 prev["ingested_at"] if prev else now, now),
            )
            c.executemany(
                'INSERT INTO sentences(article_id, idx, start, "end", text, boilerplate) VALUES (?,?,?,?,?,?)',
                [(art.id, s.index, s.start, s.end, s.text, s.boilerplate) for s in art.sentences],
            )
            c.executemany(
                "INSERT INTO sentence_fts(text, article_id, idx) VALUES (?,?,?)",
                [(s.text, art.id, s.index) for s in art.indexed],
            )
            c.execute("UPDATE journal SET state='published' WHERE article_id=?", (art.id,))

    def unpublish(self, article_id: str) -> bool:
        with self.transaction() as c:
            c.execute("DELETE FROM sentence_fts WHERE article_id=?", (article_id,))
            c.execute("DELETE FROM sentences WHERE article_id=?", (article_id,))
            return c.execute("DELETE FROM articles WHERE id=?", (article_id,)).rowcount > 0
