"""Feeds as a resource: add, list, get, remove. The HTTP API and the CLI call these."""

from __future__ import annotations

import time
from typing import Any

from service.config import Settings
from service.errors import Conflict, FetchFailed, InvalidInput, NotFound
from service.feeds.fetch import check_url
from service.feeds.interval import parse_interval
from service.feeds.urls import canonical_url
from service.store.engine import open_feeds
from service.store.feeds import feed_id_for


def add_feed(settings: Settings, url: str, *, source: str | None = None, every: str | int | None = None,
             now: float | None = None) -> dict[str, Any]:
    """Follow ``url``: it is first polled as soon as a poller runs (or on POST .../poll)."""
    url = url.strip()
    try:
        check_url(url)
    except FetchFailed as exc:
        raise InvalidInput.for_field("url", exc.detail) from None
    url = canonical_url(url)
    every_s = parse_interval(every if every is not None else settings.feed_every)
    source = (source or "").strip() or None
    if source is not None and len(source) > 200:
        raise InvalidInput.for_field("source", "longer than 200 characters")
    store = open_feeds(settings)
    feed_id = feed_id_for(url)
    if not store.add(feed_id, url, source, every_s, now=time.time() if now is None else now):
        existing = store.by_url(url)
        raise Conflict(f"{url} is already followed as feed {existing['id'] if existing else feed_id}")
    return get_feed(settings, feed_id)


def get_feed(settings: Settings, feed_id: str) -> dict[str, Any]:
    feed = open_feeds(settings).get(feed_id)
    if feed is None:
        raise NotFound(f"feed {feed_id!r} does not exist")
    return feed


def find_feed(settings: Settings, ref: str) -> dict[str, Any]:
    """A feed by id or by URL (the CLI accepts either)."""
    store = open_feeds(settings)
    found = store.get(ref)
    if found is None and ref.startswith(("http://", "https://")):
        found = store.by_url(canonical_url(ref))
    if found is None:
        raise NotFound(f"no feed {ref!r}; `newsdesk feeds list` shows the followed feeds")
    return found


def list_feeds(settings: Settings) -> list[dict[str, Any]]:
    return open_feeds(settings).list_feeds()


def remove_feed(settings: Settings, feed_id: str) -> None:
    """Stop following a feed. Its articles stay."""
    if not open_feeds(settings).remove(feed_id):
        raise NotFound(f"feed {feed_id!r} does not exist")
