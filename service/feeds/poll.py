"""Polling one feed: conditional fetch -> parse -> pages of new or changed entries -> the shared
ingest path -> near-duplicate links.  The HTTP API, the CLI and the background poller all call
:func:`poll_feed`.

- A poll holds the feed's claim (:mod:`service.store.claims`): two workers never poll one feed at
  once.  A scheduled poll that finds the feed no longer due (another worker just polled it) stops.
- ``If-None-Match`` / ``If-Modified-Since`` from the last success: a 304, or a body identical to the
  last one, touches no article and fetches no page; only the feed's poll times are written.
- An entry whose fingerprint (title, link, dates, summary, content) is unchanged since it was last
  ingested is skipped without fetching its page.  A changed entry is fetched and ingested again
  under the same article id: an edit becomes a new content version, an unchanged text stays
  ``unchanged`` (the store's idempotent path).
- Every entry fails alone, with its reason: a page that cannot be fetched or extracted falls back
  to the feed's content or summary; an entry with no text at all is a per-entry error.
- Errors back off exponentially from the poll interval (doubling, capped, honouring Retry-After).
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from service.errors import Conflict, FetchFailed, FieldError, NotFound
from service.feeds.fetch import FEED_TYPES, PAGE_TYPES, Fetcher, Policy
from service.feeds.pages import MIN_PAGE_CHARS, Page, extract_page
from service.feeds.parse import FeedEntry, NotAFeed, ParsedFeed, looks_like_html, parse_feed
from service.feeds.urls import canonical_url, same_site
from service.ingest.article import ArticleInput, derive_id
from service.ingest.dates import DateError, parse_date
from service.ingest.pipeline import ingest_batch
from service.runtime import Services
from service.store.engine import open_feeds
from service.store.feeds import Feeds

log = logging.getLogger(__name__)

STALE_AFTER_S = 300.0
"""A claim not renewed for this long belongs to a crashed worker and may be taken over."""
RENEW_EVERY_S = 30.0
JITTER = 0.1


@dataclass(slots=True)
class EntryResult:
    key: str
    title: str | None
    url: str | None
    article_id: str | None = None
    status: str = "failed"
    """created | updated | unchanged | seen (skipped: not changed in the feed) | failed"""
    text_from: str | None = None
    """page | content | summary"""
    published_at: str | None = None
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    copies: list[str] = field(default_factory=list)
    fetch_ms: float = 0.0
    extract_ms: float = 0.0


@dataclass(slots=True)
class PollReport:
    feed_id: str
    url: str
    worker: str
    status: str = "ok"
    """ok | not-modified | error"""
    http_status: int | None = None
    error: str | None = None
    error_kind: str | None = None
    bytes: int = 0
    entries: int = 0
    new: int = 0
    changed: int = 0
    seen: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    copies: int = 0
    warnings: list[str] = field(default_factory=list)
    items: list[EntryResult] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    polled_at: float = 0.0
    next_poll_at: float = 0.0


def backoff_delay(every_s: float, failures: int, *, cap_s: float, retry_after: float | None = None,
                  rng: Callable[[], float] = random.random) -> float:
    """Wait after the ``failures``-th error in a row: the interval doubled per failure, capped."""
    delay = min(every_s * 2.0 ** failures, cap_s)
    if retry_after is not None:
        delay = max(delay, min(retry_after, cap_s))
    return delay * (1.0 + JITTER * rng())


def poll_feed(services: Services, feed_id: str, *, worker: str, now: float | None = None,
              only_if_due: bool = False, fetcher: Fetcher | None = None) -> PollReport | None:
    """Poll ``feed_id`` now, holding its claim.

    With ``only_if_due`` (the scheduler), a feed another worker holds or has just polled is
    skipped and None returned; otherwise a held feed is a Conflict.
    """
    store = open_feeds(services.settings)
    now = time.time() if now is None else now
    if store.get(feed_id) is None:
        raise NotFound(f"feed {feed_id!r} does not exist")
    if not store.claim(feed_id, worker, now=time.time(), stale_after_s=STALE_AFTER_S):
        if only_if_due:
            return None
        holder = (store.get(feed_id) or {}).get("polling_by")
        raise Conflict(f"feed {feed_id} is being polled right now (by {holder}); try again shortly",
                       retry_after=5.0)
    try:
        feed = store.get(feed_id)
        if feed is None:
            raise NotFound(f"feed {feed_id!r} was removed")
        if only_if_due and feed["next_poll_at"] > now:
            return None
        own = fetcher is None
        fetcher = fetcher or Fetcher(Policy.from_settings(services.settings))
        try:
            return _poll(services, store, feed, worker, now, fetcher)
        finally:
            if own:
                fetcher.close()
    finally:
        store.release(feed_id, worker)


def _poll(services: Services, store: Feeds, feed: dict[str, Any], worker: str, now: float,
          fetcher: Fetcher) -> PollReport:
    settings = services.settings
    t0 = time.perf_counter()
    report = PollReport(feed["id"], feed["url"], worker, polled_at=now)
    headers = {}
    if feed["etag"]:
        headers["If-None-Match"] = feed["etag"]
    if feed["last_modified"]:
        headers["If-Modified-Since"] = feed["last_modified"]
    try:
        got = fetcher.get(feed["url"], accept=FEED_TYPES, max_bytes=settings.feed_max_bytes, headers=headers)
    except FetchFailed as exc:
        return _failed(services, store, feed, report, exc.kind, exc.detail, exc.http_status, exc.retry_after, t0)
    report.timings["fetch_ms"] = _ms(t0)
    report.http_status, report.bytes = got.status, len(got.content)
    body_hash = hashlib.sha256(got.content).hexdigest()
    report.next_poll_at = now + feed["every_s"]
    if got.not_modified or body_hash == feed["body_hash"]:
        report.status = "not-modified"
        store.record_not_modified(feed["id"], now=now, next_poll_at=report.next_poll_at, http_status=got.status)
        report.timings["total_ms"] = _ms(t0)
        return report

    t1 = time.perf_counter()
    try:
        if looks_like_html(got.content) and got.media_type in ("", "text/plain", "application/octet-stream"):
            raise NotAFeed("this is an HTML page, not a feed; follow the page's RSS or Atom link instead")
        parsed = parse_feed(got.content, url=got.url, content_type=got.headers.get("content-type"),
                            max_entries=settings.feed_max_entries)
    except NotAFeed as exc:
        return _failed(services, store, feed, report, "not-a-feed", f"{feed['url']}: {exc}", got.status, None, t0)
    report.timings["parse_ms"] = _ms(t1)
    if parsed.warning:
        report.warnings.append(parsed.warning)
    if parsed.total > len(parsed.entries):
        report.warnings.append(f"read the first {len(parsed.entries)} of {parsed.total} entries (feed_max_entries)")
    report.entries = len(parsed.entries)

    seen = store.entries(feed["id"])
    todo: list[FeedEntry] = []
    for entry in parsed.entries:
        before = seen.get(entry.key)
        if before is not None and before["fingerprint"] == entry.fingerprint:
            report.seen += 1
            report.items.append(EntryResult(entry.key, entry.title, entry.link, before["article_id"], "seen",
                                            before["text_from"]))
            continue
        report.changed += before is not None
        report.new += before is None
        todo.append(entry)

    t2 = time.perf_counter()
    built = _build_all(services, store, feed, parsed, todo, seen, fetcher, worker)
    report.timings["pages_ms"] = _ms(t2)
    report.timings["page_fetch_ms_sum"] = round(sum(r.fetch_ms for r, _, _ in built), 1)
    report.timings["page_extract_ms_sum"] = round(sum(r.extract_ms for r, _, _ in built), 1)

    t3 = time.perf_counter()
    _ingest(services, store, feed, built, {r["article_id"] for r in seen.values()}, now)
    report.timings["ingest_ms"] = _ms(t3)
    order = {e.key: i for i, e in enumerate(parsed.entries)}
    report.items = sorted(report.items + [res for res, _, _ in built], key=lambda r: order.get(r.key, 0))
    for item in report.items:
        if item.status in ("created", "updated", "unchanged", "failed"):
            setattr(report, item.status, getattr(report, item.status) + 1)
        report.copies += len(item.copies)
    store.record_success(feed["id"], now=now, next_poll_at=report.next_poll_at, http_status=got.status,
                         etag=got.headers.get("etag"), last_modified=got.headers.get("last-modified"),
                         body_hash=body_hash, title=parsed.title, site_url=parsed.link)
    report.timings["total_ms"] = _ms(t0)
    log.info("polled %s: %d entries, %d new, %d changed, %d created, %d updated, %d failed in %.0f ms",
             feed["url"], report.entries, report.new, report.changed, report.created, report.updated,
             report.failed, report.timings["total_ms"])
    return report


def _failed(services: Services, store: Feeds, feed: dict[str, Any], report: PollReport, kind: str, error: str,
            http_status: int | None, retry_after: float | None, t0: float) -> PollReport:
    delay = backoff_delay(feed["every_s"], feed["failures"] + 1, cap_s=services.settings.feed_backoff_max_s,
                          retry_after=retry_after)
    report.status, report.error, report.error_kind, report.http_status = "error", error, kind, http_status
    report.next_poll_at = report.polled_at + delay
    store.record_error(feed["id"], now=report.polled_at, next_poll_at=report.next_poll_at, kind=kind, error=error,
                       http_status=http_status)
    report.timings["total_ms"] = _ms(t0)
    log.warning("poll of %s failed (%s): %s; next try in %.0f s", feed["url"], kind, error, delay)
    return report


# ----------------------------------------------------------------------------------------------
# Entries -> article dicts
# ----------------------------------------------------------------------------------------------

Built = tuple[EntryResult, dict[str, Any] | None, FeedEntry]


def _build_all(services: Services, store: Feeds, feed: dict[str, Any], parsed: ParsedFeed,
               todo: list[FeedEntry], seen: dict[str, dict[str, Any]], fetcher: Fetcher, worker: str) -> list[Built]:
    """Fetch and extract pages a few at a time (network-bound), renewing the claim as we go."""
    last_renew = time.monotonic()
    out: list[Built] = []

    def one(entry: FeedEntry) -> Built:
        try:
            return _build(services, feed, parsed, entry, seen.get(entry.key), fetcher)
        except Exception as exc:  # an entry must never stop the feed: untrusted HTML reaches lxml here
            log.exception("entry %s of %s", entry.key, feed["url"])
            return EntryResult(entry.key, entry.title, entry.link, error=f"internal error: {exc!r}"), None, entry

    with ThreadPoolExecutor(max_workers=services.settings.feed_page_workers, thread_name_prefix="feed-page") as pool:
        for built in pool.map(one, todo):
            out.append(built)
            if time.monotonic() - last_renew > RENEW_EVERY_S:
                store.renew(feed["id"], worker, now=time.time())
                last_renew = time.monotonic()
    return out


def _build(services: Services, feed: dict[str, Any], parsed: ParsedFeed, entry: FeedEntry,
           before: dict[str, Any] | None, fetcher: Fetcher) -> Built:
    settings = services.settings
    res = EntryResult(entry.key, entry.title, entry.link)
    if entry.date_problem:
        res.warnings.append(entry.date_problem)
    page: Page | None = None
    final_url = entry.link
    if entry.link:
        t0 = time.perf_counter()
        try:
            got = fetcher.get(entry.link, accept=PAGE_TYPES, max_bytes=settings.page_max_bytes)
            final_url = got.url
            res.fetch_ms = _ms(t0)
            page = extract_page(got.content, got.url)
            res.extract_ms = round(_ms(t0) - res.fetch_ms, 1)
        except FetchFailed as exc:
            res.fetch_ms = _ms(t0)
            res.warnings.append(f"page: {exc.detail}")
    feed_text, feed_from = ((entry.content, "content") if len(entry.content) >= len(entry.summary)
                            else (entry.summary, "summary"))
    if page is not None and page.text and (len(page.text) >= MIN_PAGE_CHARS or len(page.text) >= len(feed_text)):
        text, res.text_from = page.text, "page"
    elif feed_text:
        if page is not None:
            res.warnings.append(f"page: only {len(page.text)} characters of main text; used the feed's {feed_from}")
        text, res.text_from = feed_text, feed_from
    else:
        res.error = "no text: " + ("; ".join(res.warnings) or "the entry has no link") + \
                    "; and the entry has no content or summary"
        return res, None, entry
    if res.text_from != "page" and before is not None and before["text_from"] == "page" \
            and services.catalog.current_hash(before["article_id"]) is not None:
        res.warnings.append("kept the stored full text rather than replace it with the feed's " + res.text_from)
        res.status, res.article_id, res.text_from = "unchanged", before["article_id"], "page"
        return res, None, entry

    url = None
    if final_url and final_url.lower().startswith(("http://", "https://")):
        url = final_url
        if page is not None and page.canonical and same_site(page.canonical, final_url):
            url = page.canonical
        url = canonical_url(url)
    res.url = url or entry.link
    if before is not None:
        article_id = before["article_id"]  # an edited entry is a new version of the same article
    elif url:
        article_id = derive_id(ArticleInput(text=".", url=url))
    else:
        article_id = "e" + hashlib.sha256(f"{feed['id']}\x1f{entry.key}".encode()).hexdigest()[:16]
    res.article_id = article_id

    published = entry.published
    if published is None and page is not None and page.date:
        try:
            published = parse_date(page.date)
        except DateError as exc:
            res.warnings.append(f"page date: {exc}")
    res.published_at = published.isoformat() if published else None
    title = entry.title or (page.title if page else None)
    source = feed["source"] or entry.source or parsed.title or feed["title"]
    raw: dict[str, Any] = {"id": article_id, "url": url, "title": title[:1000] if title else None, "text": text,
                           "source": source[:200] if source else None, "published_at": res.published_at}
    return res, raw, entry


def _ingest(services: Services, store: Feeds, feed: dict[str, Any], built: list[Built], ours: set[str],
            now: float) -> None:
    """Ingest through the shared path (one embedding batch); record which entries became articles."""
    batch: list[tuple[EntryResult, dict[str, Any], FeedEntry]] = []
    by_id: dict[str, EntryResult] = {}
    for res, raw, entry in built:
        if raw is None:
            continue
        if raw["id"] in by_id:  # two entries, one canonical URL: one article
            res.status = "unchanged"
            res.warnings.append(f"same article as entry {by_id[raw['id']].key!r} (same canonical URL)")
            continue
        if raw["id"] not in ours and services.catalog.current_hash(raw["id"]) is not None:
            res.status = "unchanged"  # already stored from another feed or door: the same article
            res.warnings.append("already stored under the same canonical URL")
            continue
        by_id[raw["id"]] = res
        batch.append((res, raw, entry))
    outcomes = ingest_batch(services.store, [(e.key, raw) for _, raw, e in batch],
                            max_chars=services.settings.max_article_chars, prefix=lambda i: "")
    for (res, _, _), out in zip(batch, outcomes, strict=True):
        res.status, res.copies = out.status, out.copies
        if out.status == "failed":
            res.error = "; ".join(_field_text(e) for e in out.errors)
    # Entries that failed, or kept a stored full text over a failed page, are not recorded: the
    # next change to the feed tries them again.
    rows = [(entry.key, res.article_id, entry.fingerprint, res.text_from or "")
            for res, raw, entry in built
            if raw is not None and res.status in ("created", "updated", "unchanged") and res.article_id]
    store.record_entries(feed["id"], rows, now=now)


def _field_text(e: FieldError) -> str:
    return f"{e.field}: {e.message}" if e.field else e.message


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)
