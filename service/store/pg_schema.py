"""The PostgreSQL schema: an ordered list of migrations and a ``schema_version`` table.

A migration is applied once, in one transaction with its ``schema_version`` row.  ``upgrade``
holds a transaction-level advisory lock while it reads the version and applies what is missing,
so any number of processes (nodes starting at once, ``newsdesk db upgrade``) can run it together:
one applies, the others then find nothing to do.  Every PostgreSQL store runs it once per process
when it opens, as the SQLite stores create their tables; a database newer than this code is
refused rather than written to.

The tables keep the SQLite column types (ISO text times, epoch seconds as double precision), so
the rows mean the same on both engines.  For now the schema covers API keys and rate limits only.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from service.errors import ConfigError
from service.store import pg


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
