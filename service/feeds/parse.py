"""Feed documents -> entries, with feedparser (RSS 0.9x/1.0/2.0, Atom 0.3/1.0).

The body is handed to feedparser as a stream, never as a string: given a string, feedparser
fetches URLs and opens local files by itself.
"""

from __future__ import annotations

import calendar
import hashlib
import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

import feedparser

from service.ingest.dates import DateError, parse_date

_BLOCK = {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "tr", "table",
          "section", "article", "figure", "figcaption", "pre", "hr", "dd", "dt"}
_SKIP = {"script", "style", "noscript", "template", "iframe", "svg"}


@dataclass(frozen=True, slots=True)
class FeedEntry:
    key: str
    """The entry's identity within its feed: its guid/id, else its link, else a content hash."""
    title: str | None
    link: str | None
    published: datetime | None
    date_problem: str | None
    summary: str
    content: str
    source: str | None
    """The outlet an aggregator names in the entry's <source>."""
    fingerprint: str
    """Changes when the entry changes: title, link, dates, summary or content."""


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    title: str | None
    link: str | None
    entries: list[FeedEntry]
    total: int
    warning: str | None = None


class NotAFeed(ValueError):
    pass


def parse_feed(body: bytes, *, url: str, content_type: str | None = None, max_entries: int = 100) -> ParsedFeed:
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    doc = feedparser.parse(io.BytesIO(body), response_headers=headers, sanitize_html=True,
                           resolve_relative_uris=True)
    version = doc.get("version") or ""
    if not version and not doc.entries:
        why = doc.get("bozo_exception")
        raise NotAFeed(f"not an RSS or Atom feed{f': {why}' if why else ''}")
    warning = None
    if doc.get("bozo") and doc.get("bozo_exception") is not None:
        warning = f"feed is not well-formed ({type(doc.bozo_exception).__name__}); read leniently"
    feed = doc.get("feed", {})
    entries = [_entry(e) for e in doc.entries[:max_entries]]
    return ParsedFeed(_clean(feed.get("title")), feed.get("link"), entries, len(doc.entries), warning)


def _entry(e: Any) -> FeedEntry:
    title = _clean(html_to_text(e.get("title", ""))) if e.get("title") else None
    link = (e.get("link") or "").strip() or None
    summary = html_to_text(e.get("summary", "") or "")
    content = max((html_to_text(c.get("value", "")) for c in e.get("content", []) or []), key=len, default="")
    if content and summary and content.startswith(summary.rstrip("…. ")):
        summary = ""  # feedparser repeats the content as the summary when there is no separate one
    published, problem = _published(e)
    src = e.get("source") or {}
    source = _clean(src.get("title")) if isinstance(src, dict) else None
    raw = "\x1f".join([title or "", link or "", e.get("published", "") or "", e.get("updated", "") or "",
                       summary, content])
    fingerprint = hashlib.sha256(raw.encode()).hexdigest()[:24]
    key = (e.get("id") or "").strip() or link or "h" + fingerprint
    return FeedEntry(key[:1000], title, link, published, problem, summary, content, source, fingerprint)


def _published(e: Any) -> tuple[datetime | None, str | None]:
    """The entry's date: our reader first (RFC 822, ISO 8601, variants), feedparser's as fallback."""
    problem = None
    for name in ("published", "updated", "created", "dc_date"):
        raw = e.get(name)
        if not raw:
            continue
        try:
            return parse_date(str(raw)), None
        except DateError as exc:
            problem = problem or f"{'pubDate' if name == 'published' else name}: {exc}"
        parsed = e.get(f"{name}_parsed")
        if parsed:
            return datetime.fromtimestamp(calendar.timegm(parsed), UTC), None
    return None, problem


def _clean(text: str | None) -> str | None:
    if not text:
        return None
    return " ".join(text.split()) or None


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skip += 1
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def html_to_text(fragment: str) -> str:
    """Text of an HTML fragment (a feed's summary or content): one paragraph per line."""
    if "<" not in fragment and "&" not in fragment:
        return "\n".join(" ".join(line.split()) for line in fragment.splitlines() if line.strip())
    p = _Text()
    p.feed(fragment)
    p.close()
    lines = (" ".join(line.split()) for line in "".join(p.parts).split("\n"))
    return "\n".join(line for line in lines if line)


def looks_like_html(body: bytes) -> bool:
    head = body[:2048].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or bool(re.search(rb"<(head|body)[\s>]", head))
