"""Copy the relational state of a single-machine desk (the SQLite files in its data dir) into
PostgreSQL, and count both sides: the SQL half of ``newsdesk db copy`` (service/store/desk_copy.py
runs it, with the vectors).

What is copied, row for row and keys as stored:

- ``catalog.sqlite3``: articles (with their version, hash and times), sentences (offsets and
  boilerplate reasons), near-duplicate bands and copy links, the write journal, API keys (their
  hashes; a secret is never stored anywhere, so none is read or printed);
- ``feeds.sqlite3``: feeds and the entries seen in each (not the poll leases: a lease lives only
  while a poll runs);
- ``briefings.sqlite3``: stored briefings and their run claims (a finished day is history: the
  schedule never builds it again);
- ``logs.sqlite3``: the model call log, with its ids.

Rate-limit buckets are not copied (they refill within seconds).  The lexical index is not copied
from FTS5: each article's postings are rebuilt in PostgreSQL by the PG catalogue's own indexing
(:func:`service.store.pg_lexical.index_article`) over the sentences and headline that FTS5
indexed, in the transaction that writes the article, as publishing does.

A copy is idempotent: rows are upserted by their keys, an article already in the target with the
same version is skipped, calls keep their ids.  :func:`foreign_rows` finds what makes a target
unsafe to copy into: rows this desk does not have (another desk's, or ones written by nodes since
an earlier copy).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.store import pg
from service.store.catalog_base import ARTICLE_COLUMNS
from service.store.pg_lexical import index_article, unindex_article
from vectorstore.copy import Count


@dataclass(frozen=True, slots=True)
class Table:
    """A table with the same name and columns on both engines."""

    file: str
    """The SQLite file in the data dir."""
    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]

    def cols(self) -> str:
        return ", ".join(f'"{c}"' for c in self.columns)


_ARTICLE_COLS = tuple(c.strip() for c in ARTICLE_COLUMNS.split(","))
ARTICLES = Table("catalog.sqlite3", "articles", _ARTICLE_COLS, ("id",))
SENTENCES = Table("catalog.sqlite3", "sentences", ("article_id", "idx", "start", "end", "text", "boilerplate"),
                  ("article_id", "idx"))
API_KEYS = Table("catalog.sqlite3", "api_keys",
                 ("id", "name", "scope", "hash", "created_at", "revoked_at", "last_used_at"), ("id",))
CALLS = Table("logs.sqlite3", "calls", (
    "id", "ts", "backend", "model", "prompt_name", "prompt_version", "prompt_hash", "retrieved_ids", "request",
    "response", "prompt_tokens", "completion_tokens", "latency_ms", "error", "cached", "finish_reason", "params"),
    ("id",))
UPSERTED: tuple[Table, ...] = (
    Table("catalog.sqlite3", "article_bands", ("band", "hash", "article_id"), ("band", "hash", "article_id")),
    Table("catalog.sqlite3", "article_copies", ("article_id", "other_id", "containment", "linked_at"),
          ("article_id", "other_id")),
    Table("catalog.sqlite3", "journal", ("article_id", "op", "state", "payload", "started_at"), ("article_id",)),
    Table("feeds.sqlite3", "feeds", (
        "id", "url", "source", "every_s", "title", "site_url", "created_at", "next_poll_at", "last_polled_at",
        "last_success_at", "last_error_at", "last_error", "last_error_kind", "last_http_status", "etag",
        "last_modified", "body_hash", "failures", "polls"), ("id",)),
    Table("feeds.sqlite3", "feed_entries", ("feed_id", "entry_key", "article_id", "fingerprint", "text_from",
                                            "first_seen_at", "last_seen_at"), ("feed_id", "entry_key")),
    Table("briefings.sqlite3", "briefings", ("date", "scope", "payload", "created_at"), ("date", "scope")),
    Table("briefings.sqlite3", "briefing_runs", ("date", "scope", "worker", "state", "claimed_at", "finished_at",
                                                 "error"), ("date", "scope")),
)
"""Copied by an upsert on their key (the desk's row wins)."""
COUNTED: tuple[Table, ...] = (ARTICLES, SENTENCES, *UPSERTED[:3], API_KEYS, *UPSERTED[3:], CALLS)
"""Every copied table, in the order the counts are printed."""
IDENTITY: tuple[Table, ...] = (ARTICLES, API_KEYS, UPSERTED[3], UPSERTED[5], CALLS)
"""Tables whose rows a target may hold only when they came from this desk (see :func:`foreign_rows`)."""
LEXICAL = "lexical index (sentences)"
ARTICLE_BATCH = 50
ROW_BATCH = 2000


class SqliteDesk:
    """The SQLite files of a data dir, opened read-only (a missing file or table reads as empty)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._conns: dict[str, sqlite3.Connection | None] = {}

    def _conn(self, file: str) -> sqlite3.Connection | None:
        if file not in self._conns:
            path = self.data_dir / file
            conn = None
            if path.exists():
                conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
                conn.row_factory = sqlite3.Row
            self._conns[file] = conn
        return self._conns[file]

    def rows(self, file: str, sql: str, args: Sequence[Any] = ()) -> Iterator[sqlite3.Row]:
        conn = self._conn(file)
        if conn is None:
            return iter(())
        try:
            return iter(conn.execute(sql, args).fetchall())
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return iter(())
            raise

    def count(self, file: str, table: str) -> int:
        return next((int(r[0]) for r in self.rows(file, f"SELECT COUNT(*) FROM {table}")), 0)

    def table(self, t: Table) -> list[sqlite3.Row]:
        return list(self.rows(t.file, f"SELECT {t.cols()} FROM {t.name} ORDER BY {', '.join(t.key)}"))

    def keys(self, t: Table) -> set[tuple[Any, ...]]:
        return {tuple(r) for r in self.rows(t.file, f"SELECT {', '.join(t.key)} FROM {t.name}")}

    def indexed(self) -> dict[str, tuple[str, list[tuple[int, str]]]]:
        """article id -> (headline FTS5 indexed, [(idx, text)] of its indexed sentences)."""
        out: dict[str, tuple[str, list[tuple[int, str]]]] = {}
        for r in self.rows("catalog.sqlite3", "SELECT article_id, idx, text, title FROM sentence_fts"):
            out.setdefault(r["article_id"], (r["title"] or "", []))[1].append((int(r["idx"]), r["text"]))
        return out

    def close(self) -> None:
        for conn in self._conns.values():
            if conn is not None:
                conn.close()
        self._conns.clear()


@contextmanager
def _target(url: str) -> Iterator[Any]:
    """A dedicated connection to the target (a ConfigError when it does not answer)."""
    with closing(pg.connect(url)) as conn:
        yield conn


def _target_keys(conn: Any, t: Table) -> set[tuple[Any, ...]]:
    return {tuple(r.values()) for r in conn.execute(f"SELECT {', '.join(t.key)} FROM {t.name}")}  # type: ignore[arg-type]


def foreign_rows(desk: SqliteDesk, url: str) -> dict[str, int]:
    """Per table, the target's rows that did not come from this desk: a key it does not have, an
    article with other content, a key id with another hash.  Empty: the target is empty, or holds
    an earlier (maybe partial) copy of this desk, and copying again is safe."""
    out: dict[str, int] = {}
    with _target(url) as conn:
        for t in IDENTITY:
            extra = len(_target_keys(conn, t) - desk.keys(t))
            if extra:
                out[t.name] = extra
        for t, col in ((ARTICLES, "content_hash"), (API_KEYS, "hash")):
            mine = {r[0]: r[1] for r in desk.rows(t.file, f"SELECT id, {col} FROM {t.name}")}
            differ = sum(1 for r in conn.execute(f"SELECT id, {col} AS v FROM {t.name}")  # type: ignore[arg-type]
                         if r["id"] in mine and mine[r["id"]] != r["v"])
            if differ:
                out[t.name] = out.get(t.name, 0) + differ
    return out


def _upsert_sql(t: Table) -> str:
    rest = [c for c in t.columns if c not in t.key]
    action = ("DO UPDATE SET " + ", ".join(f'"{c}"=excluded."{c}"' for c in rest)) if rest else "DO NOTHING"
    return (f"INSERT INTO {t.name}({t.cols()}) VALUES ({','.join('?' * len(t.columns))}) "
            f"ON CONFLICT ({', '.join(t.key)}) {action}")


def _batches(rows: Sequence[Any], n: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(rows), n):
        yield rows[i : i + n]


def copy_articles(desk: SqliteDesk, url: str, say: Callable[[str], None] = lambda _: None) -> int:
    """Write each article the target lacks (or holds in another version) with its sentences and
    its postings, ``ARTICLE_BATCH`` articles per transaction; the number written."""
    indexed = desk.indexed()
    with _target(url) as conn:
        have = {r["id"]: r["version"] for r in conn.execute("SELECT id, version FROM articles")}
        todo = [r for r in desk.table(ARTICLES) if have.get(r["id"]) != r["version"]]
        ins_article = f"INSERT INTO articles({ARTICLES.cols()}) VALUES ({','.join('?' * len(ARTICLES.columns))})"
        ins_sentence = f"INSERT INTO sentences({SENTENCES.cols()}) VALUES (?,?,?,?,?,?)"
        done = 0
        for part in _batches(todo, ARTICLE_BATCH):
            with conn.transaction():
                db = pg.Qmark(conn)
                for art in part:
                    aid = art["id"]
                    if aid in have:  # an older version from an earlier copy: replaced whole
                        unindex_article(db, aid)
                        db.execute("DELETE FROM articles WHERE id=?", (aid,))  # sentences cascade
                    db.execute(ins_article, tuple(art))
                    db.executemany(ins_sentence, [tuple(s) for s in desk.rows(
                        "catalog.sqlite3", f"SELECT {SENTENCES.cols()} FROM sentences WHERE article_id=? ORDER BY idx",
                        (aid,))])
                    title, sentences = indexed.get(aid, ("", []))
                    index_article(db, aid, title, sentences)
            done += len(part)
            say(f"articles: {done}/{len(todo)}")
    return done


def copy_rows(desk: SqliteDesk, url: str, say: Callable[[str], None] = lambda _: None) -> None:
    """Upsert the other tables (keys, bands, copies, journal, feeds, briefings) and append the
    call log with its ids."""
    with _target(url) as conn:
        for t in (API_KEYS, *UPSERTED):
            rows = desk.table(t)
            for part in _batches(rows, ROW_BATCH):
                with conn.transaction():
                    pg.Qmark(conn).executemany(_upsert_sql(t), [tuple(r) for r in part])
            say(f"{t.name}: {len(rows)}")
        calls = desk.table(CALLS)
        marks = ",".join("?" * len(CALLS.columns))
        ins = f"INSERT INTO calls({CALLS.cols()}) OVERRIDING SYSTEM VALUE VALUES ({marks}) ON CONFLICT (id) DO NOTHING"
        for part in _batches(calls, ROW_BATCH):
            with conn.transaction():
                pg.Qmark(conn).executemany(ins, [tuple(r) for r in part])
        # the next call logged on a node continues after the copied ids
        conn.execute("SELECT setval(pg_get_serial_sequence('calls', 'id'), GREATEST((SELECT max(id) FROM calls), 1), "
                     "(SELECT max(id) FROM calls) IS NOT NULL)")
        say(f"calls: {len(calls)}")


def counts(desk: SqliteDesk, url: str) -> list[Count]:
    """Rows per copied table on both sides, and the sentences in the lexical index (FTS5 rows;
    PostgreSQL: indexed sentences, which must also be the total BM25 divides by)."""
    out: list[Count] = []
    with _target(url) as conn:
        def n(sql: str) -> int:
            return int(next(iter(conn.execute(sql).fetchone().values())))  # type: ignore[arg-type]

        for t in COUNTED:
            out.append(Count(t.name, desk.count(t.file, t.name), n(f"SELECT COUNT(*) FROM {t.name}")))
        indexed = n("SELECT COUNT(*) FROM sentences WHERE dl IS NOT NULL")
        docs = n("SELECT docs FROM lexical_stats WHERE id = 1")
        out.append(Count(LEXICAL, desk.count("catalog.sqlite3", "sentence_fts"), indexed))
        if docs != indexed:  # the totals BM25 divides by disagree with the postings
            out.append(Count("lexical_stats.docs", indexed, docs))
    return out
