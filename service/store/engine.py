"""Which engine holds the shared state: SQLite files in the data dir (one machine), or PostgreSQL
when ``NEWSDESK_DATABASE_URL`` is set (any number of nodes).  Code above ``service/store`` opens
stores through these functions and never learns which engine runs.

For now PostgreSQL holds API keys, rate limits and the ingest writer lock; the catalogue, feeds,
briefings and the call log stay in SQLite files under the data dir.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.config import Settings
from service.store import pg
from service.store.keys import Keys, KeyStore
from service.store.limits import Limiter, RateLimiter
from service.store.writelock import ExclusiveLock, WriterLock


def _pg_url(settings: Settings) -> str | None:
    """The PostgreSQL URL, or None for SQLite."""
    if settings.database_url:
        pg.require_driver()  # a clear ConfigError when psycopg is missing
    return settings.database_url


def open_keys(settings: Settings) -> Keys:
    if (url := _pg_url(settings)) is not None:
        from service.store.pg_keys import PgKeyStore  # psycopg: only with a URL

        return PgKeyStore(url)
    return KeyStore(settings.catalog_path, busy_timeout_s=settings.sqlite_busy_timeout_s)


def open_limiter(settings: Settings) -> Limiter:
    if (url := _pg_url(settings)) is not None:
        from service.store.pg_limits import PgRateLimiter  # psycopg: only with a URL

        return PgRateLimiter(url)
    return RateLimiter(settings.limits_path, busy_timeout_s=settings.sqlite_busy_timeout_s)


def writer_lock(settings: Settings) -> ExclusiveLock:
    """One ingest writer at a time: on this machine (a lock file), or on every node (PostgreSQL)."""
    if (url := _pg_url(settings)) is not None:
        from service.store.pg_writelock import PgWriterLock  # psycopg: only with a URL

        return PgWriterLock(url)
    return WriterLock(settings.data_dir / "ingest.lock")


@dataclass(frozen=True, slots=True)
class SchemaState:
    engine: str
    where: str
    """The data dir, or the database URL without its password."""
    version: int | None = None
    latest: int | None = None
    """PostgreSQL only: the applied and the newest schema version."""


def schema_state(settings: Settings) -> SchemaState:
    """Where the shared state lives and, for PostgreSQL, its schema version (read only)."""
    if not settings.database_url:
        return SchemaState("sqlite", str(settings.data_dir))
    from service.store import pg_schema

    url = settings.database_url
    return SchemaState("postgresql", pg.redact(url), pg_schema.version(url), pg_schema.LATEST)


def upgrade(settings: Settings) -> tuple[SchemaState, int | None]:
    """Apply pending migrations; the state after, and the version before (None for SQLite, whose
    stores create their tables when they open)."""
    if not settings.database_url:
        return schema_state(settings), None
    from service.store import pg_schema

    before, after = pg_schema.upgrade(settings.database_url)
    return SchemaState("postgresql", pg.redact(settings.database_url), after, pg_schema.LATEST), before
