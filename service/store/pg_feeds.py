"""Followed feeds, their entries and poll claims in PostgreSQL (tables ``feeds``,
``feed_entries``, ``feed_claims``): the :class:`~service.store.feeds.Feeds` contract, shared by
every node on one database.  The SQL is the SQLite store's; a claim is a row lease
(service/store/claims.py), so of all the nodes' pollers that find a feed due, one polls it.
"""

from __future__ import annotations

from service.store.feeds import Feeds
from service.store.pg_schema import PooledStore


class PgFeedStore(PooledStore, Feeds):
    _FEED_LOCK = " FOR KEY SHARE"  # entries are not written for a feed removed meanwhile

    def __init__(self, url: str) -> None:
        super().__init__(url, name="newsdesk-feeds")
