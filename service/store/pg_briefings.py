"""Stored briefings and their run claims in PostgreSQL (tables ``briefings``,
``briefing_runs``): the :class:`~service.store.briefings.Briefings` contract, shared by every
node on one database.  The SQL is the SQLite store's; a day's run is a row lease
(service/store/claims.py), so however many nodes wake up for the schedule, one builds the day.
"""

from __future__ import annotations

from service.store.briefings import Briefings
from service.store.pg_schema import PooledStore


class PgBriefingStore(PooledStore, Briefings):
    def __init__(self, url: str) -> None:
        super().__init__(url, name="newsdesk-briefings")
