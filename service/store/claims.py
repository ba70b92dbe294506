"""Run claims, one contract on both engines: of any number of workers (threads, processes or
nodes) racing for one key, exactly one wins.

A claim is one statement, the same SQL on SQLite and PostgreSQL: ``INSERT`` the key, or, when it
exists, ``ON CONFLICT DO UPDATE ... WHERE`` the claim there is unfinished and older than
``stale_after_s`` (its worker crashed).  SQLite serialises it with the file's write lock
(``BEGIN IMMEDIATE``, the caller's transaction).  PostgreSQL locks the key's row for the
decision: a racer waits for the winner's insert or take-over to commit, then finds a fresh claim
and updates nothing, so it is a row lease that no two nodes hold at once.
Two ways to end a claim:

- :meth:`ClaimTable.finish` keeps the row as history and makes it final: the daily briefing
  claims one run per day, and a finished day is never built again by the schedule;
- :meth:`ClaimTable.release` deletes the row, so the key can be claimed again: the feed poller
  holds a claim on a feed only while it polls it, and renews it as it goes.

``db`` is a connection whose ``execute`` takes ``?`` placeholders and returns a cursor with
``rowcount``: a ``sqlite3.Connection``, or :class:`service.store.pg.Qmark` over psycopg.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ClaimTable:
    table: str
    keys: tuple[str, ...]

    def schema(self) -> str:
        """SQLite's ``CREATE TABLE`` (PostgreSQL's is a migration in service/store/pg_schema.py)."""
        cols = ", ".join(f"{k} TEXT NOT NULL" for k in self.keys)
        return (f"CREATE TABLE IF NOT EXISTS {self.table} ({cols}, worker TEXT NOT NULL, state TEXT NOT NULL, "
                f"claimed_at REAL NOT NULL, finished_at REAL, error TEXT, PRIMARY KEY ({', '.join(self.keys)}))")

    def _where(self) -> str:
        return " AND ".join(f"{k}=?" for k in self.keys)

    def claim(self, db: Any, key: Sequence[Any], worker: str, *, now: float,
              stale_after_s: float, retry_failed: bool = False) -> bool:
        """True for exactly one caller per key; a stale unfinished claim can be taken over, and with
        ``retry_failed`` a failed one at once (the seeded days' briefings retry at each start)."""
        cols = ", ".join(self.keys)
        marks = ",".join("?" * len(self.keys))
        t = self.table
        return bool(db.execute(
            f"INSERT INTO {t} AS c ({cols}, worker, state, claimed_at) VALUES ({marks},?,'running',?) "
            f"ON CONFLICT ({cols}) DO UPDATE SET worker=excluded.worker, claimed_at=excluded.claimed_at, "
            f"state='running', error=NULL, finished_at=NULL "
            f"WHERE c.state!='done' AND (c.claimed_at<? OR (? AND c.state='failed'))",
            (*key, worker, now, now - stale_after_s, bool(retry_failed))).rowcount)

    def finish(self, db: Any, key: Sequence[Any], *, now: float, error: str | None = None) -> None:
        db.execute(f"UPDATE {self.table} SET state=?, finished_at=?, error=? WHERE {self._where()}",
                   ("failed" if error else "done", now, error, *key))

    def renew(self, db: Any, key: Sequence[Any], worker: str, *, now: float) -> bool:
        """Push a held claim's age back to zero; False when ``worker`` no longer holds it."""
        return bool(db.execute(f"UPDATE {self.table} SET claimed_at=? WHERE {self._where()} AND worker=? "
                               f"AND state='running'", (now, *key, worker)).rowcount)

    def release(self, db: Any, key: Sequence[Any], worker: str) -> bool:
        """Delete ``worker``'s claim so the key can be claimed again."""
        return bool(db.execute(f"DELETE FROM {self.table} WHERE {self._where()} AND worker=?",
                               (*key, worker)).rowcount)

    def holder(self, db: Any, key: Sequence[Any]) -> dict[str, Any] | None:
        row = db.execute(f"SELECT * FROM {self.table} WHERE {self._where()}", tuple(key)).fetchone()
        return dict(row) if row is not None else None
