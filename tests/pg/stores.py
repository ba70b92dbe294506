"""Two stores of a kind on one engine, as two nodes (PostgreSQL: two pools) or two workers
(SQLite: one file) would open them; closed at the end."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager

from service.config import Settings
from service.store.briefings import Briefings, BriefingStore
from service.store.feeds import Feeds, FeedStore


def new_feeds(settings: Settings) -> Feeds:
    if settings.database_url:
        from service.store.pg_feeds import PgFeedStore

        return PgFeedStore(settings.database_url)
    return FeedStore(settings.data_dir / "feeds.sqlite3")


def new_briefings(settings: Settings) -> Briefings:
    if settings.database_url:
        from service.store.pg_briefings import PgBriefingStore

        return PgBriefingStore(settings.database_url)
    return BriefingStore(settings.data_dir / "briefings.sqlite3")


@contextmanager
def two_feeds(settings: Settings) -> Iterator[tuple[Feeds, Feeds]]:
    with ExitStack() as stack:
        yield stack.enter_context(closing(new_feeds(settings))), stack.enter_context(closing(new_feeds(settings)))


@contextmanager
def two_briefings(settings: Settings) -> Iterator[tuple[Briefings, Briefings]]:
    with ExitStack() as stack:
        yield (stack.enter_context(closing(new_briefings(settings))),
               stack.enter_context(closing(new_briefings(settings))))
