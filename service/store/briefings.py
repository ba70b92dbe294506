"""Stored daily briefings and the run claims that keep a scheduled build from running twice:
one contract, :class:`Briefings`, whose SQL both engines run.

SQLite in ``settings.data_dir / "briefings.sqlite3"`` (:class:`BriefingStore`); every operation
opens its own connection, so one store (or several processes) can share the file.  With
``NEWSDESK_DATABASE_URL``, PostgreSQL (service/store/pg_briefings.py), shared by every node; code
above service/store opens it with ``service.store.engine.open_briefings``.  A run is claimed with
a single statement (an insert, or the take-over of a stale claim): of any number of workers
racing for the same day, on any node, exactly one gets it (service/store/claims.py).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

from service.store import sqlite
from service.store.claims import ClaimTable

RUNS = ClaimTable("briefing_runs", ("date", "scope"))
"""One claim per (day, scope), kept as history; the feed poller uses the same claims."""
_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS briefings (
        date TEXT NOT NULL, scope TEXT NOT NULL, payload TEXT NOT NULL, created_at TEXT NOT NULL,
        PRIMARY KEY (date, scope))""",
    RUNS.schema(),
]


def scope_key(timezone: str, sources: tuple[str, ...] | list[str]) -> str:
    """Briefings of the same day differ by timezone and source filter."""
    return f"tz={timezone};sources={','.join(sorted(sources))}"


class Briefings(ABC):
    """The briefing store on either engine: ``_tx`` gives a connection inside one transaction
    whose ``execute`` takes ``?`` placeholders; all the SQL below is common to both."""

    @abstractmethod
    def _tx(self) -> AbstractContextManager[Any]: ...

    @abstractmethod
    def close(self) -> None:
        """Release what the store holds (a PostgreSQL pool)."""

    # -- briefings -----------------------------------------------------------------------
    def save(self, date: str, scope: str, payload: dict[str, Any]) -> None:
        with self._tx() as db:
            db.execute("INSERT INTO briefings(date, scope, payload, created_at) VALUES (?,?,?,?) "
                       "ON CONFLICT (date, scope) DO UPDATE SET payload=excluded.payload, "
                       "created_at=excluded.created_at",
                       (date, scope, json.dumps(payload, ensure_ascii=False), _now()))

    def get(self, date: str, scope: str) -> dict[str, Any] | None:
        with self._tx() as db:
            row = db.execute("SELECT payload FROM briefings WHERE date=? AND scope=?", (date, scope)).fetchone()
        return json.loads(row["payload"]) if row else None

    def previous(self, date: str, scope: str) -> dict[str, Any] | None:
        """The latest stored briefing of the same scope before ``date``."""
        with self._tx() as db:
            row = db.execute("SELECT payload FROM briefings WHERE date<? AND scope=? ORDER BY date DESC LIMIT 1",
                             (date, scope)).fetchone()
        return json.loads(row["payload"]) if row else None

    # -- scheduled runs ------------------------------------------------------------------
    def claim_run(self, date: str, scope: str, worker: str, *, now: float, stale_after_s: float,
                  retry_failed: bool = False) -> bool:
        """True for exactly one caller per (date, scope); a stale unfinished claim can be taken over,
        and so can a failed one at once when ``retry_failed``."""
        with self._tx() as db:
            return RUNS.claim(db, (date, scope), worker, now=now, stale_after_s=stale_after_s,
                              retry_failed=retry_failed)

    def finish_run(self, date: str, scope: str, *, now: float, error: str | None = None) -> None:
        with self._tx() as db:
            RUNS.finish(db, (date, scope), now=now, error=error)

    def run(self, date: str, scope: str) -> dict[str, Any] | None:
        with self._tx() as db:
            return RUNS.holder(db, (date, scope))

    def dates(self, scope: str) -> list[str]:
        """Days with a stored briefing of this scope, newest first."""
        with self._tx() as db:
            return [r["date"] for r in db.execute("SELECT date FROM briefings WHERE scope=? ORDER BY date DESC",
                                                  (scope,))]

    def runs(self) -> list[dict[str, Any]]:
        with self._tx() as db:
            return [dict(r) for r in db.execute("SELECT * FROM briefing_runs ORDER BY date, scope")]


class BriefingStore(sqlite.FileStore, Briefings):
    """Briefings in the SQLite file ``path``."""

    schema = _SCHEMA


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
