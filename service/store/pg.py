"""PostgreSQL connections for the state that several nodes share (``NEWSDESK_DATABASE_URL``).

Stores hit on every request (keys, limits) share a small pool each; a lock that must live as long
as a session (the ingest writer's advisory lock) gets a connection of its own, never a pooled one.
Connections are in autocommit mode and read rows by column name; a transaction is opened
explicitly with ``conn.transaction()``.  A pool checks each connection before lending it (one
empty round trip), so after a server restart the next call gets a fresh connection, not an error.
psycopg is imported only by the ``pg*`` modules, and they only when a URL is set: SQLite needs
none of it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from service.errors import ConfigError, DatabaseUnavailable, InvalidInput

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

POOL_MAX = 8
"""Connections per pool and process: above the default threadpool of a worker (6)."""
CONNECT_TIMEOUT_S = 10
POOL_WAIT_S = 3.0
"""How long a request waits for a pooled connection before it is told 503: the pool reconnects in
the background, so a request fails fast while the database is away."""
RECONNECT_GIVE_UP_S = 4.0
"""How long the pool retries one lost connection before it gives up; the next request that waits
starts a new attempt at once.  With psycopg_pool's default (300 s) the delay between attempts
doubles (1, 2, 4, 8, 16 s ...) for the whole outage, so a node kept answering 503 long after the
database was back (13 s after a 20 s outage in tests/pg/test_crash_pg.py; 0.1 s with this cap)."""
INSTALL_HINT = "install the PostgreSQL driver: pip install 'newsdesk[postgres]'"


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + host))


def in_schema(url: str, schema: str) -> str:
    """``url`` with its sessions in ``schema`` (created when missing): a database of its own
    inside one, for stores that must not share rows (an evaluation's per-set catalogues)."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", schema):
        raise ValueError(f"not a plain schema name: {schema!r}")
    with connect(url) as conn:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")  # type: ignore[arg-type]  # checked above
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "options"]
    options = dict(parse_qsl(parts.query)).get("options", "")
    query.append(("options", f"{options} -c search_path={schema}".strip()))
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


def lock_key(name: str) -> int:
    """A stable 64-bit advisory-lock key for ``name`` (``pg_advisory_lock`` takes a bigint)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def require_driver() -> Any:
    """psycopg, or a ConfigError that says how to install it."""
    try:
        import psycopg
    except ImportError as exc:
        raise ConfigError(f"NEWSDESK_DATABASE_URL is set but psycopg is missing: {INSTALL_HINT}") from exc
    return psycopg


def _reason(exc: Exception) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def connect(url: str, *, options: dict[str, str] | None = None) -> psycopg.Connection[dict[str, Any]]:
    """A dedicated autocommit connection; a bad or unreachable URL is a ConfigError that says why.

    ``options`` are server settings for this session only (``-c name=value`` at connect)."""
    psycopg = require_driver()
    from psycopg.rows import dict_row

    extra = {"options": " ".join(f"-c {k}={v}" for k, v in options.items())} if options else {}
    try:
        conn: psycopg.Connection[dict[str, Any]] = psycopg.connect(
            url, autocommit=True, row_factory=dict_row, connect_timeout=CONNECT_TIMEOUT_S, **extra)
    except psycopg.Error as exc:
        raise ConfigError(f"cannot connect to PostgreSQL at {redact(url)} (NEWSDESK_DATABASE_URL): "
                          f"{_reason(exc)}") from exc
    return conn


def open_pool(url: str, *, name: str, session: tuple[str, ...] = ()) -> ConnectionPool:
    """A pool of autocommit connections, open and checked; ``session`` statements run once on
    each new connection (``SET synchronous_commit = off`` for bookkeeping-only stores)."""
    connect(url).close()  # a bad URL fails here, with libpq's own reason
    from psycopg.rows import dict_row
    from psycopg_pool import ConnectionPool, PoolTimeout

    configure: Callable[[Any], None] | None = None
    if session:
        def configure(conn: Any) -> None:
            for stmt in session:
                conn.execute(stmt)

    pool = ConnectionPool(url, min_size=1, max_size=POOL_MAX, name=name, open=False, timeout=POOL_WAIT_S,
                          reconnect_timeout=RECONNECT_GIVE_UP_S,
                          kwargs={"autocommit": True, "row_factory": dict_row, "connect_timeout": CONNECT_TIMEOUT_S},
                          configure=configure, check=ConnectionPool.check_connection)
    try:
        pool.open(wait=True, timeout=CONNECT_TIMEOUT_S)
    except PoolTimeout as exc:
        pool.close()
        raise ConfigError(f"cannot open a connection pool to PostgreSQL at {redact(url)}: {_reason(exc)}") from exc
    return pool


class Qmark:
    """A psycopg connection that takes SQLite's ``?`` placeholders, so SQL that both engines
    understand is written once (service/store/claims.py, feeds.py, briefings.py).  Rows are
    dicts; ``execute`` returns the cursor (``rowcount``, ``fetchone``, iteration)."""

    def __init__(self, conn: psycopg.Connection[dict[str, Any]]) -> None:
        self.conn = conn

    @staticmethod
    def sql(query: str) -> str:
        return query.replace("%", "%%").replace("?", "%s")

    def execute(self, query: str, params: Sequence[Any] = ()) -> psycopg.Cursor[dict[str, Any]]:
        return self.conn.execute(self.sql(query), tuple(params))  # type: ignore[arg-type]  # constant SQL

    def executemany(self, query: str, rows: Iterable[Sequence[Any]]) -> None:
        with self.conn.cursor() as cur:
            cur.executemany(self.sql(query), [tuple(r) for r in rows])  # type: ignore[arg-type]


RETRY_AFTER_S = 5.0
"""What a 503 tells a client to wait when the database does not answer (a restart takes 1-2 s)."""


@contextmanager
def connection(pool: ConnectionPool) -> Iterator[psycopg.Connection[dict[str, Any]]]:
    """A pooled connection; a server that does not answer is :class:`DatabaseUnavailable` (HTTP 503
    with Retry-After), not a 500."""
    psycopg = require_driver()
    from psycopg_pool import PoolTimeout

    try:
        with pool.connection() as conn:
            yield conn
    except (psycopg.OperationalError, PoolTimeout) as exc:
        raise DatabaseUnavailable(f"PostgreSQL is not answering: {_reason(exc)}",
                                  retry_after=RETRY_AFTER_S) from exc
    except psycopg.DataError as exc:
        if "NUL" not in str(exc):
            raise
        # PostgreSQL text cannot hold U+0000; SQLite can. The fields a client sends are checked at
        # the edge with their names (ArticleInput, Filters); this is the last guard, not a 500.
        raise InvalidInput("a text value contains a NUL character (U+0000), which the database cannot "
                           "store or compare") from exc


@contextmanager
def transaction(pool: ConnectionPool) -> Iterator[Qmark]:
    """A pooled connection in one transaction (committed, or rolled back on any exception)."""
    with connection(pool) as conn, conn.transaction():
        yield Qmark(conn)
