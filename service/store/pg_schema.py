"""The PostgreSQL schema: an ordered list of migrations and a ``schema_version`` table.

A migration is applied once, in one transaction with its ``schema_version`` row.  ``upgrade``
holds a transaction-level advisory lock while it reads the version and applies what is missing,
so any number of processes (nodes starting at once, ``newsdesk db upgrade``) can run it together:
one applies, the others then find nothing to do.  Every PostgreSQL store runs it once per process
when it opens, as the SQLite stores create their tables; a database newer than this code is
refused rather than written to.

The tables keep the SQLite column types (ISO text times, epoch seconds as double precision), so
the rows mean the same on both engines.  The schema covers API keys, rate limits, feeds (entries and
poll claims), briefings (and their run claims), the model call log, and the article catalogue with
its lexical index (service/store/pg_lexical.py).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from service.errors import ConfigError
from service.store import pg
from service.store.pg_lexical import CATALOG_TABLES


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "api keys and rate limits", (
        """CREATE TABLE api_keys (
            id TEXT COLLATE "C" PRIMARY KEY, name TEXT NOT NULL, scope TEXT NOT NULL, hash TEXT NOT NULL,
            created_at TEXT COLLATE "C" NOT NULL, revoked_at TEXT, last_used_at DOUBLE PRECISION)""",
        """CREATE TABLE rate_limits (
            bucket TEXT NOT NULL, ident TEXT NOT NULL, tat DOUBLE PRECISION NOT NULL, PRIMARY KEY (bucket, ident))""",
    )),
    Migration(2, "feeds and briefings with their claims", (
        """CREATE TABLE feeds (
            id TEXT COLLATE "C" PRIMARY KEY, url TEXT NOT NULL UNIQUE, source TEXT, every_s INTEGER NOT NULL,
            title TEXT, site_url TEXT, created_at DOUBLE PRECISION NOT NULL, next_poll_at DOUBLE PRECISION NOT NULL,
            last_polled_at DOUBLE PRECISION, last_success_at DOUBLE PRECISION, last_error_at DOUBLE PRECISION,
            last_error TEXT, last_error_kind TEXT, last_http_status INTEGER, etag TEXT, last_modified TEXT,
            body_hash TEXT, failures INTEGER NOT NULL DEFAULT 0, polls INTEGER NOT NULL DEFAULT 0)""",
        "CREATE INDEX feeds_due ON feeds(next_poll_at)",
        """CREATE TABLE feed_entries (
            feed_id TEXT NOT NULL REFERENCES feeds(id) ON DELETE CASCADE, entry_key TEXT NOT NULL,
            article_id TEXT NOT NULL, fingerprint TEXT NOT NULL, text_from TEXT NOT NULL,
            first_seen_at DOUBLE PRECISION NOT NULL, last_seen_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (feed_id, entry_key))""",
        """CREATE TABLE feed_claims (
            feed_id TEXT NOT NULL PRIMARY KEY, worker TEXT NOT NULL, state TEXT NOT NULL,
            claimed_at DOUBLE PRECISION NOT NULL, finished_at DOUBLE PRECISION, error TEXT)""",
        """CREATE TABLE briefings (
            date TEXT COLLATE "C" NOT NULL, scope TEXT COLLATE "C" NOT NULL, payload TEXT NOT NULL,
            created_at TEXT NOT NULL, PRIMARY KEY (date, scope))""",
        """CREATE TABLE briefing_runs (
            date TEXT COLLATE "C" NOT NULL, scope TEXT COLLATE "C" NOT NULL, worker TEXT NOT NULL,
            state TEXT NOT NULL, claimed_at DOUBLE PRECISION NOT NULL, finished_at DOUBLE PRECISION, error TEXT,
            PRIMARY KEY (date, scope))""",
    )),
    Migration(3, "the model call log", (
        """CREATE TABLE calls (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, ts TEXT NOT NULL, backend TEXT NOT NULL,
            model TEXT NOT NULL, prompt_name TEXT, prompt_version TEXT, prompt_hash TEXT NOT NULL,
            retrieved_ids TEXT NOT NULL DEFAULT '[]', request TEXT NOT NULL, response TEXT,
            prompt_tokens INTEGER, completion_tokens INTEGER, latency_ms DOUBLE PRECISION, error TEXT,
            cached INTEGER NOT NULL DEFAULT 0, finish_reason TEXT, params TEXT NOT NULL DEFAULT '{}')""",
        "CREATE INDEX calls_ts ON calls (ts)",
        "CREATE INDEX calls_prompt ON calls (prompt_name, prompt_version)",
    )),
    Migration(4, "the article catalogue and its BM25 postings", CATALOG_TABLES),
)
LATEST = MIGRATIONS[-1].version
_LOCK = pg.lock_key("newsdesk:schema")
_VERSION_TABLE = """CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"""
_ready: set[str] = set()
_ready_lock = threading.Lock()


def version(url: str) -> int:
    """The applied version (0 for an empty database), without changing anything."""
    with pg.connect(url) as conn:
        if conn.execute("SELECT to_regclass('schema_version') AS t").fetchone()["t"] is None:  # type: ignore[index]
            return 0
        return int(conn.execute("SELECT COALESCE(max(version), 0) AS v FROM schema_version").fetchone()["v"])  # type: ignore[index]


def upgrade(url: str) -> tuple[int, int]:
    """Apply the missing migrations; (version before, version after)."""
    with pg.connect(url) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))  # before the CREATE: it races too
        conn.execute(_VERSION_TABLE)
        before = int(conn.execute("SELECT COALESCE(max(version), 0) AS v FROM schema_version").fetchone()["v"])  # type: ignore[index]
        if before > LATEST:
            raise ConfigError(f"the database at {pg.redact(url)} has schema version {before}, newer than this "
                              f"Newsdesk knows ({LATEST}): upgrade Newsdesk on this node")
        for m in MIGRATIONS:
            if m.version > before:
                for stmt in m.statements:
                    conn.execute(stmt)  # type: ignore[arg-type]  # constant SQL
                conn.execute("INSERT INTO schema_version(version, name) VALUES (%s, %s)", (m.version, m.name))
    return before, LATEST


def ensure(url: str) -> None:
    """``upgrade`` once per process and URL (every store calls this when it opens)."""
    with _ready_lock:
        if url not in _ready:
            upgrade(url)
            _ready.add(url)


def reached(url: str) -> bool:
    """Whether a store of this process has opened ``url`` (so the URL is right, and a connection
    that fails now means the server is down or restarting)."""
    with _ready_lock:
        return url in _ready


class PooledStore:
    """A store on a pool of its own over the migrated schema; each operation is one transaction."""

    def __init__(self, url: str, *, name: str) -> None:
        self.url = url
        ensure(url)
        self._pool = pg.open_pool(url, name=name)

    @contextmanager
    def _tx(self) -> Iterator[pg.Qmark]:
        with pg.transaction(self._pool) as db:
            yield db

    def close(self) -> None:
        self._pool.close()
