"""The ingest writer lock across machines: a PostgreSQL session advisory lock.

The lock belongs to a session, so it is taken on a connection of its own, opened for each hold
and closed after: a pooled connection would keep the lock when handed to someone else (and a
transaction-mode pgbouncer would break it).  When the holding process dies, even on ``kill -9``,
its connection closes and PostgreSQL frees the lock; the session's TCP keepalives free it within
about 30 s when the whole machine is gone.
"""

from __future__ import annotations

from typing import Any

from psycopg import OperationalError

from service.errors import ConfigError, DatabaseUnavailable
from service.store import pg, pg_schema
from service.store.writelock import ExclusiveLock

_KEEPALIVE = {"tcp_keepalives_idle": "10", "tcp_keepalives_interval": "5", "tcp_keepalives_count": "4"}


class PgWriterLock(ExclusiveLock):
    def __init__(self, url: str, *, name: str = "newsdesk:ingest-writer") -> None:
        super().__init__()
        self.url = url
        self.key = pg.lock_key(name)
        self._conn: Any = None

    def _acquire(self) -> None:
        try:
            conn = pg.connect(self.url, options=_KEEPALIVE)
        except ConfigError as exc:
            # a URL that this process's stores opened is right: failing now, the server is down or
            # restarting, a 503 the client may retry (before: a 500 "configuration-error")
            if not (isinstance(exc.__cause__, OperationalError) and pg_schema.reached(self.url)):
                raise
            raise _unavailable(exc.__cause__) from exc
        try:
            conn.execute("SELECT pg_advisory_lock(%s)", (self.key,))  # blocks while another node writes
        except OperationalError as exc:  # the server went away while we waited for the lock
            conn.close()
            raise _unavailable(exc) from exc
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    def _release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
            except OperationalError:  # the session is gone, and its lock with it
                pass
            finally:
                conn.close()


def _unavailable(exc: Exception) -> DatabaseUnavailable:
    reason = " ".join(str(exc).split()) or type(exc).__name__
    return DatabaseUnavailable(f"PostgreSQL is not answering (ingest writer lock): {reason}",
                               retry_after=pg.RETRY_AFTER_S)
