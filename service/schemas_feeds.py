"""Request and response models of the followed feeds (``/v1/feeds``), beside :mod:`service.schemas`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from service.schemas import Strict


class FeedIn(Strict):
    url: str = Field(min_length=1, max_length=4000, description="An RSS or Atom feed URL (http or https).")
    source: str | None = Field(default=None, max_length=200,
                               description="Outlet name for its articles; default: the entry's <source>, "
                                           "else the feed's title.")
    every: str | int | None = Field(default=None, description="Poll interval: 90s, 15m, 1h, 1h30m, or seconds; "
                                                              "default NEWSDESK_FEED_EVERY (30m).")


class FeedOut(BaseModel):
    id: str
    url: str
    source: str | None
    title: str | None = Field(description="The feed's own title, from its last successful poll.")
    site_url: str | None
    every: str
    every_seconds: int
    created_at: str
    next_poll_at: str
    last_polled_at: str | None
    last_success_at: str | None
    last_error_at: str | None
    last_error: str | None
    last_error_kind: str | None
    last_http_status: int | None
    etag: str | None
    last_modified: str | None
    consecutive_failures: int
    polls: int
    entries_seen: int
    articles: int
    polling_by: str | None = Field(description="The worker polling it right now, if any.")


class FeedList(BaseModel):
    items: list[FeedOut]


class PollEntryOut(BaseModel):
    key: str
    title: str | None
    url: str | None
    article_id: str | None
    status: Literal["created", "updated", "unchanged", "seen", "failed"]
    text_from: str | None = Field(description="page | content | summary")
    published_at: str | None
    warnings: list[str]
    error: str | None
    copies: list[str] = Field(description="Stored articles this one is a near-duplicate of (wire copy).")
    fetch_ms: float
    extract_ms: float


class PollOut(BaseModel):
    feed_id: str
    url: str
    worker: str
    status: Literal["ok", "not-modified", "error"]
    http_status: int | None
    error: str | None
    error_kind: str | None
    bytes: int
    entries: int
    new: int
    changed: int
    seen: int
    created: int
    updated: int
    unchanged: int
    failed: int
    copies: int
    warnings: list[str]
    items: list[PollEntryOut]
    timings: dict[str, float]
    polled_at: str
    next_poll_at: str
