"""Rate limits shared by every worker: one SQLite row per (bucket, key), in ``limits.sqlite3``.

The algorithm is GCRA (the token bucket written as one timestamp): a limit of N per period
lets N requests through at once, then one every period/N.  Each row keeps the "theoretical
arrival time" (TAT) of the next request; a hit moves it forward by period/N inside one
``BEGIN IMMEDIATE`` transaction, so any number of processes share one counter exactly.  A
refused hit does not move it, and says how long until the next request fits (Retry-After).

The file is separate from the catalogue so that per-request counter writes never queue behind
an ingest's publish transaction.  With ``NEWSDESK_DATABASE_URL`` the counters live in PostgreSQL
instead (service/store/pg_limits.py), behind the same :class:`Limiter` contract.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Protocol

from service.store import sqlite

_SCHEMA = """CREATE TABLE IF NOT EXISTS rate_limits (
    bucket TEXT NOT NULL, ident TEXT NOT NULL, tat REAL NOT NULL, PRIMARY KEY (bucket, ident))"""


class Limiter(Protocol):
    def hit(self, bucket: str, ident: str, limit: tuple[int, float], *, now: float | None = None) -> float | None:
        """Count one request. None when it is allowed; else the seconds until one would be."""

    def prune(self, *, now: float | None = None) -> int:
        """Drop rows whose allowance is full again (their TAT is in the past)."""

    def close(self) -> None: ...


class RateLimiter:
    """SQLite: one file shared by the workers of one machine."""

    def __init__(self, path: Path, *, busy_timeout_s: float = 30.0) -> None:
        self.path = path
        self.busy_timeout_s = busy_timeout_s
        sqlite.create(path, [_SCHEMA], timeout_s=busy_timeout_s)
        self._conns = sqlite.PerThread(path, timeout_s=busy_timeout_s, pragmas=["PRAGMA synchronous=NORMAL"])
        self._db = self._conns.get

    def hit(self, bucket: str, ident: str, limit: tuple[int, float], *, now: float | None = None) -> float | None:
        """Count one request. None when it is allowed; else the seconds until one would be."""
        count, period = limit
        interval = period / count
        now = time.time() if now is None else now
        with sqlite.transaction(self._db()) as db:
            row = db.execute("SELECT tat FROM rate_limits WHERE bucket=? AND ident=?", (bucket, ident)).fetchone()
            tat = max(row[0] if row else now, now)
            new_tat = tat + interval
            if new_tat - now > period:
                return new_tat - now - period
            db.execute("INSERT INTO rate_limits(bucket, ident, tat) VALUES (?,?,?) "
                       "ON CONFLICT(bucket, ident) DO UPDATE SET tat=excluded.tat", (bucket, ident, new_tat))
            return None

    def prune(self, *, now: float | None = None) -> int:
        """Drop rows whose allowance is full again (their TAT is in the past)."""
        now = time.time() if now is None else now
        return self._db().execute("DELETE FROM rate_limits WHERE tat < ?", (now,)).rowcount

    def close(self) -> None:
        self._conns.close()
