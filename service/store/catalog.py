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
from service.store import sqlite

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

_LISTED = "id, title, url, source, published_iso, sentence_count, chunk_count, updated_at"
"""The columns of an article in a list (no text)."""
TITLE_WEIGHT = 1.0
"""BM25 weight of the article's headline next to the sentence's own words (weight 1); picked on
the HotpotQA dev sentences (docs/retrieval.md)."""


_WH_PHRASE = re.compile(r"\bhow (?:many|much|long|old|often|far)\b|"
                        r"\bwhat (?:year|percentage|percent|number|kind|type)\b")
"""Question syntax, not content: "how many soldiers" must not rank "did not disclose how many
soldiers" first.  (The question-type prior in retrieval looks for the number instead.)"""
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


def _migrate_fts(c: sqlite3.Connection) -> None:
    """Catalogues from before the headline column: rebuild the FTS index with it."""
    cols = [r[1] for r in c.execute("PRAGMA table_info(sentence_fts)").fetchall()]
    if not cols or "title" in cols:
        return
    c.execute("DROP TABLE sentence_fts")
    c.execute(_FTS_SCHEMA)
    c.execute("INSERT INTO sentence_fts(text, title, article_id, idx) SELECT s.text, a.title, s.article_id, s.idx "
              "FROM sentences s JOIN articles a ON a.id = s.article_id WHERE s.boilerplate IS NULL")


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
            f"SELECT {_LISTED} FROM articles a WHERE {where} ORDER BY COALESCE(published_at, 0) DESC, id "
            f"LIMIT ? OFFSET ?",
            [*args, limit, offset],
        )
        return [dict(r) for r in rows], total

    def search_articles(self, query: str, filters: Filters, *, limit: int, offset: int,
                        scan: int = 2000) -> tuple[list[dict[str, Any]], int]:
        """Articles whose indexed sentences (or headline) match ``query`` by BM25, best first, each
        with ``match_index``: its best sentence.  Looks at the ``scan`` best sentences."""
        best: dict[str, int] = {}
        for article_id, idx, _ in self.lexical_search(query, filters, scan):
            best.setdefault(article_id, idx)  # hits come best first
        ids = list(best)[offset : offset + limit]
        if not ids:
            return [], len(best)
        rows = {r["id"]: dict(r) for r in self._query(
            f"SELECT {_LISTED} FROM articles WHERE id IN ({','.join('?' * len(ids))})", ids)}
        return [{**rows[i], "match_index": best[i]} for i in ids if i in rows], len(best)

    def sources(self) -> list[tuple[str, int]]:
        """Each outlet with its number of articles, most articles first."""
        return [(r["source"], r["n"]) for r in self._query(
            "SELECT source, COUNT(*) AS n FROM articles GROUP BY source ORDER BY n DESC, source")]

    def publication_times(self) -> list[tuple[int, int]]:
        """(start of a quarter hour, articles published in it), for counts by day in any timezone
        (every UTC offset in use is a whole number of quarter hours)."""
        return [(r["t"] * 900, r["n"]) for r in self._query(
            "SELECT published_at / 900 AS t, COUNT(*) AS n FROM articles WHERE published_at IS NOT NULL "
            "GROUP BY t")]

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

    def lexical_search(self, query: str, filters: Filters, k: int, *,
                       title_weight: float = TITLE_WEIGHT) -> list[tuple[str, int, float]]:
        """BM25 over indexed sentences (and, at ``title_weight``, their article's headline):
        (article_id, idx, score), best first, higher is better."""
        terms = [t for t in re.findall(r"\w+", _WH_PHRASE.sub(" ", query.lower())) if t not in _STOP]
        if not terms:
            return []
        match = " OR ".join(f'"{t}"' for t in dict.fromkeys(terms))  # quoted: no FTS syntax injection
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

    def stats(self) -> dict[str, int]:
        a = self._query("SELECT COUNT(*) AS n, COALESCE(SUM(sentence_count),0) AS s FROM articles")[0]
        j = self._query("SELECT COUNT(*) AS n FROM journal")[0]
        return {"articles": a["n"], "sentences": a["s"], "pending": j["n"]}

    # -- near-duplicates -------------------------------------------------------------------
    def get_article_text(self, article_id: str) -> str | None:
        rows = self._query("SELECT text FROM articles WHERE id=?", (article_id,))
        return rows[0]["text"] if rows else None

    def set_bands(self, article_id: str, bands: Sequence[int]) -> None:
        with self.transaction() as c:
            c.execute("DELETE FROM article_bands WHERE article_id=?", (article_id,))
            c.executemany("INSERT OR IGNORE INTO article_bands(band, hash, article_id) VALUES (?,?,?)",
                          [(i, h, article_id) for i, h in enumerate(bands)])

    def band_candidates(self, bands: Sequence[int], *, exclude: str, limit: int = 50) -> list[str]:
        """Visible articles sharing at least one band with ``bands``, most shared first."""
        if not bands:
            return []
        values = ",".join("(?,?)" for _ in bands)
        rows = self._query(
            f"WITH q(band, hash) AS (VALUES {values}) SELECT b.article_id, COUNT(*) AS n FROM q "
            f"JOIN article_bands b ON b.band=q.band AND b.hash=q.hash JOIN articles a ON a.id=b.article_id "
            f"WHERE b.article_id != ? GROUP BY b.article_id ORDER BY n DESC, b.article_id LIMIT ?",
            [x for i, h in enumerate(bands) for x in (i, h)] + [exclude, limit])
        return [r["article_id"] for r in rows]

    def set_copies(self, article_id: str, links: Sequence[tuple[str, float]]) -> None:
        """Replace ``article_id``'s copy links (stored both ways)."""
        now = _now()
        with self.transaction() as c:
            c.execute("DELETE FROM article_copies WHERE article_id=? OR other_id=?", (article_id, article_id))
            c.executemany("INSERT OR REPLACE INTO article_copies VALUES (?,?,?,?)",
                          [row for other, score in links
                           for row in ((article_id, other, score, now), (other, article_id, score, now))])

    def copies(self, article_id: str) -> list[dict[str, Any]]:
        return [dict(r) for r in self._query(
            "SELECT c.other_id AS id, c.containment, a.source, a.title, a.published_iso AS published_at "
            "FROM article_copies c JOIN articles a ON a.id=c.other_id WHERE c.article_id=? "
            "ORDER BY COALESCE(a.published_at, 0), a.ingested_at, a.id", (article_id,))]

    def copy_origins(self, article_ids: Sequence[str], *, max_group: int = 200) -> dict[str, tuple[str, str]]:
        """article id -> (id, source) of the earliest visible copy in its group (itself when it has none)."""
        out: dict[str, tuple[str, str]] = {}
        for aid in article_ids:
            if aid in out:
                continue
            group, frontier = {aid}, [aid]
            while frontier and len(group) < max_group:
                marks = ",".join("?" * len(frontier))
                rows = self._query(f"SELECT c.other_id FROM article_copies c JOIN articles a ON a.id=c.other_id "
                                   f"WHERE c.article_id IN ({marks})", frontier)
                frontier = [r["other_id"] for r in rows if r["other_id"] not in group]
                group.update(frontier)
            marks = ",".join("?" * len(group))
            members = self._query(f"SELECT id, source FROM articles WHERE id IN ({marks}) "
                                  f"ORDER BY published_at IS NULL, published_at, ingested_at, id", sorted(group))
            if not members:
                continue
            origin = (members[0]["id"], members[0]["source"])
            for m in members:
                out[m["id"]] = origin
        return {aid: out[aid] for aid in article_ids if aid in out}

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
                "INSERT INTO sentence_fts(text, title, article_id, idx) VALUES (?,?,?,?)",
                [(s.text, art.context_title or "", art.id, s.index) for s in art.indexed],
            )
            c.execute("UPDATE journal SET state='published' WHERE article_id=?", (art.id,))

    def unpublish(self, article_id: str) -> bool:
        with self.transaction() as c:
            c.execute("DELETE FROM article_bands WHERE article_id=?", (article_id,))
            c.execute("DELETE FROM article_copies WHERE article_id=? OR other_id=?", (article_id, article_id))
            c.execute("DELETE FROM sentence_fts WHERE article_id=?", (article_id,))
            c.execute("DELETE FROM sentences WHERE article_id=?", (article_id,))
            return c.execute("DELETE FROM articles WHERE id=?", (article_id,)).rowcount > 0
