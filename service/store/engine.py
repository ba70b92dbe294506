"""Which engine holds the shared state: SQLite files in the data dir (one machine), or PostgreSQL
when ``NEWSDESK_DATABASE_URL`` is set (any number of nodes).  Code above ``service/store`` opens
stores through these functions and never learns which engine runs.

PostgreSQL holds API keys, rate limits, the ingest writer lock, feeds and briefings with their
claims, the model call log and the article catalogue (with its BM25 index); vectors are in Chroma
either way (a server shared by the nodes: ``NEWSDESK_CHROMA_HOST``).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from service.config import Settings
from service.logs.calls import CallLog
from service.store import pg
from service.store.briefings import Briefings, BriefingStore
from service.store.catalog import Catalog
from service.store.catalog_base import BaseCatalog
from service.store.feeds import Feeds, feed_store
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


def open_catalog(settings: Settings) -> BaseCatalog:
    """The article catalogue (the caller closes it)."""
    if (url := _pg_url(settings)) is not None:
        from service.store.pg_catalog import PgCatalog  # psycopg: only with a URL

        return PgCatalog(url)
    return Catalog(settings.catalog_path, busy_timeout_s=settings.sqlite_busy_timeout_s)


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


_Shared = TypeVar("_Shared", Feeds, Briefings)
_SHARED: dict[tuple[str, str], Feeds | Briefings] = {}
_SHARED_LOCK = threading.Lock()


def _shared(kind: str, url: str, make: Callable[[str], _Shared]) -> _Shared:
    """One PostgreSQL store of ``kind`` per process and URL: callers open the feed and briefing
    stores per operation, as the SQLite stores allow, and a pool per call would cost a connect."""
    with _SHARED_LOCK:
        store = _SHARED.get((kind, url))
        if store is None:
            store = _SHARED[(kind, url)] = make(url)
        return store  # type: ignore[return-value]  # stored under its own kind


def close_shared(url: str | None = None) -> None:
    """Close the shared PostgreSQL stores (of ``url``, or all): at exit, or when a test drops
    its database."""
    with _SHARED_LOCK:
        for key in [k for k in _SHARED if url is None or k[1] == url]:
            _SHARED.pop(key).close()


_USERS: dict[str, int] = {}


def share(settings: Settings) -> Callable[[], None]:
    """Count one more user (a :class:`~service.runtime.Services`) of the shared stores of the
    settings' database; the function returned releases it once, and the last user's release
    closes those stores (another user in the process keeps them open)."""
    url = settings.database_url
    if not url:
        return lambda: None
    with _SHARED_LOCK:
        _USERS[url] = _USERS.get(url, 0) + 1
    released = threading.Event()

    def release() -> None:
        with _SHARED_LOCK:
            if released.is_set():
                return
            released.set()
            _USERS[url] -= 1
            if _USERS[url] > 0:
                return
            del _USERS[url]
            stores = [_SHARED.pop(k) for k in [k for k in _SHARED if k[1] == url]]
        for store in stores:
            store.close()

    return release


def open_feeds(settings: Settings) -> Feeds:
    """Followed feeds, their entries and poll claims (shared: the caller does not close it)."""
    if (url := _pg_url(settings)) is not None:
        from service.store.pg_feeds import PgFeedStore  # psycopg: only with a URL

        return _shared("feeds", url, PgFeedStore)
    return feed_store(settings)


def open_briefings(settings: Settings) -> Briefings:
    """Stored briefings and their run claims (shared: the caller does not close it)."""
    if (url := _pg_url(settings)) is not None:
        from service.store.pg_briefings import PgBriefingStore  # psycopg: only with a URL

        return _shared("briefings", url, PgBriefingStore)
    return BriefingStore(settings.data_dir / "briefings.sqlite3")


_Log = TypeVar("_Log", bound=CallLog)


def open_call_log(settings: Settings, cls: type[_Log] = CallLog) -> _Log:  # type: ignore[assignment]
    """The model call log (the caller closes it); ``cls`` may add to what a row write does
    (service/ops/metrics.py counts the calls)."""
    if (url := _pg_url(settings)) is not None:
        from service.store.pg_calls import PgCallRows  # psycopg: only with a URL

        return cls(rows=PgCallRows(url))
    return cls(settings.logs_path)


def isolated(settings: Settings, name: str) -> Settings:
    """``settings`` for a store of its own named ``name``: SQLite's is its data dir already; on
    PostgreSQL its rows go to a schema ``name`` of the database (created when missing), so two
    stores with separate data dirs do not share one catalogue (evals/retrieval.py builds one per
    dev set)."""
    if (url := _pg_url(settings)) is None:
        return settings
    schema = re.sub(r"[^a-z0-9_]", "_", name.lower())[:63]
    return settings.model_copy(update={"database_url": pg.in_schema(url, schema)})


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
