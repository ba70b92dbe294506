"""Stored briefings and their run claims in PostgreSQL (tables ``briefings``,
``briefing_runs``): the :class:`~service.store.briefings.Briefings` contract, shared by every
node on one database.  The SQL is the SQLite store's; a day's run is a row lease
(service/store/claims.py), so however many nodes wake up for the schedule, one builds the day.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from service.store import pg, pg_schema
from service.store.briefings import Briefings


class PgBriefingStore(Briefings):
    def __init__(self, url: str) -> None:
        self.url = url
        pg_schema.ensure(url)
        self._pool = pg.open_pool(url, name="newsdesk-briefings")

    @contextmanager
    def _tx(self) -> Iterator[pg.Qmark]:
        with pg.transaction(self._pool) as db:
            yield db

    def close(self) -> None:
        self._pool.close()
