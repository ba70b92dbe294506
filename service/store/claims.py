"""Run claims in SQLite: of any number of workers (threads or processes) racing for one key,
exactly one wins.

A claim is one ``INSERT OR IGNORE`` inside ``BEGIN IMMEDIATE`` (the caller's transaction), or the
take-over of a claim that is unfinished and older than ``stale_after_s`` (its worker crashed).
Two ways to end a claim:

- :meth:`ClaimTable.finish` keeps the row as history and makes it final: the daily briefing
  claims one run per day, and a finished day is never built again by the schedule;
- :meth:`ClaimTable.release` deletes the row, so the key can be claimed again: the feed poller
  holds a claim on a feed only while it polls it, and renews it as it goes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ClaimTable:
    table: str
    keys: tuple[str, ...]

    def schema(self) -> str:
        cols = ", ".join(f"{k} TEXT NOT NULL" for k in self.keys)
        return (f"CREATE TABLE IF NOT EXISTS {self.table} ({cols}, worker TEXT NOT NULL, state TEXT NOT NULL, "
                f"claimed_at REAL NOT NULL, finished_at REAL, error TEXT, PRIMARY KEY ({', '.join(self.keys)}))")

    def _where(self) -> str:
        return " AND ".join(f"{k}=?" for k in self.keys)

    def claim(self, db: sqlite3.Connection, key: Sequence[Any], worker: str, *, now: float,
              stale_after_s: float, retry_failed: bool = False) -> bool:
        """True for exactly one caller per key; a stale unfinished claim can be taken over, and with
        ``retry_failed`` a failed one at once (the seeded days' briefings retry at each start)."""
        cols = ", ".join(self.keys)
        marks = ",".join("?" * len(self.keys))
        if db.execute(f"INSERT OR IGNORE INTO {self.table}({cols}, worker, state, claimed_at) "
                      f"VALUES ({marks},?,?,?)", (*key, worker, "running", now)).rowcount:
            return True
        taken = db.execute(f"UPDATE {self.table} SET worker=?, claimed_at=?, state='running', error=NULL, "
                           f"finished_at=NULL WHERE {self._where()} AND state!='done' "
                           f"AND (claimed_at<? OR (? AND state='failed'))",
                           (worker, now, *key, now - stale_after_s, retry_failed)).rowcount
        return bool(taken)

    def finish(self, db: sqlite3.Connection, key: Sequence[Any], *, now: float, error: str | None = None) -> None:
        db.execute(f"UPDATE {self.table} SET state=?, finished_at=?, error=? WHERE {self._where()}",
                   ("failed" if error else "done", now, error, *key))

    def renew(self, db: sqlite3.Connection, key: Sequence[Any], worker: str, *, now: float) -> bool:
        """Push a held claim's age back to zero; False when ``worker`` no longer holds it."""
        return bool(db.execute(f"UPDATE {self.table} SET claimed_at=? WHERE {self._where()} AND worker=? "
                               f"AND state='running'", (now, *key, worker)).rowcount)

    def release(self, db: sqlite3.Connection, key: Sequence[Any], worker: str) -> bool:
        """Delete ``worker``'s claim so the key can be claimed again."""
        return bool(db.execute(f"DELETE FROM {self.table} WHERE {self._where()} AND worker=?",
                               (*key, worker)).rowcount)

    def holder(self, db: sqlite3.Connection, key: Sequence[Any]) -> dict[str, Any] | None:
        row = db.execute(f"SELECT * FROM {self.table} WHERE {self._where()}", tuple(key)).fetchone()
        return dict(row) if row is not None else None
