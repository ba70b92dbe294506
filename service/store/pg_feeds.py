"""Followed feeds, their entries and poll claims in PostgreSQL (tables ``feeds``,
``feed_entries``, ``feed_claims``): the :class:`~service.store.feeds.Feeds` contract, shared by
every node on one database.  The SQL is the SQLite store's; a claim is a row lease
(service/store/claims.py), so of all the nodes' pollers that find a feed due, one polls it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from service.store import pg, pg_schema
from service.store.feeds import Feeds


class PgFeedStore(Feeds):
    _FEED_LOCK = " FOR KEY SHARE"  # entries are not written for a feed removed meanwhile

    def __init__(self, url: str) -> None:
        self.url = url
        pg_schema.ensure(url)
        self._pool = pg.open_pool(url, name="newsdesk-feeds")

    @contextmanager
    def _tx(self) -> Iterator[pg.Qmark]:
        with pg.transaction(self._pool) as db:
            yield db

    def close(self) -> None:
        self._pool.close()
