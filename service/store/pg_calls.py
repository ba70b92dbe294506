"""The model call log in PostgreSQL (table ``calls``): the rows of
:class:`~service.logs.calls.CallLog`, written by every node into one table, so a call answered on
one node is listed on any other (``newsdesk logs``).  The log is bookkeeping: its pool's sessions
commit without waiting for the WAL flush (``synchronous_commit = off``); a crash may lose the last
fraction of a second of rows, never a request.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from service.errors import DatabaseUnavailable
from service.logs.calls import INSERT, CallRows
from service.store import pg, pg_schema


class PgCallRows(CallRows):
    errors = (psycopg.Error, OSError, DatabaseUnavailable)  # a log write never fails the call

    def __init__(self, url: str) -> None:
        self.url = url
        self.where = pg.redact(url)
        pg_schema.ensure(url)
        self._pool = pg.open_pool(url, name="newsdesk-calls", session=("SET synchronous_commit = off",))

    def insert(self, row: tuple[Any, ...]) -> int:
        with pg.connection(self._pool) as conn:
            got = pg.Qmark(conn).execute(INSERT + " RETURNING id", row).fetchone()
        return int(got["id"]) if got else 0

    def select(self, limit: int, offset: int) -> Sequence[Any]:
        with pg.connection(self._pool) as conn:
            return conn.execute("SELECT * FROM calls ORDER BY id DESC LIMIT %s OFFSET %s", (limit, offset)).fetchall()

    def one(self, call_id: int) -> Any | None:
        with pg.connection(self._pool) as conn:
            return conn.execute("SELECT * FROM calls WHERE id = %s", (call_id,)).fetchone()

    def count(self) -> int:
        with pg.connection(self._pool) as conn:
            got = conn.execute("SELECT COUNT(*) AS n FROM calls").fetchone()
        return int(got["n"]) if got else 0

    def close(self) -> None:
        self._pool.close()
