"""An entry's page -> main text and metadata, with trafilatura (one parse for both)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

MIN_PAGE_CHARS = 200
"""Shorter extractions (paywalls, consent walls, script-only pages) lose to the feed's own text."""


@dataclass(frozen=True, slots=True)
class Page:
    text: str
    title: str | None
    canonical: str | None
    sitename: str | None
    date: str | None


def extract_page(html: bytes | str, url: str) -> Page:
    import trafilatura

    # No extensive date search: it hands undated pages to dateparser, which compiles regexes for
    # every locale it knows (94% of extraction time in docs/benchmarks.md); the feed dates entries.
    doc = trafilatura.bare_extraction(html, url=url, favor_precision=True, include_comments=False,
                                      include_tables=False, with_metadata=True,
                                      date_extraction_params={"original_date": True, "extensive_search": False,
                                                              "max_date": date.today().isoformat()})
    if doc is None:
        return Page("", None, None, None, None)
    get = doc.get if isinstance(doc, dict) else lambda k: getattr(doc, k, None)
    return Page((get("text") or "").strip(), get("title") or None, get("url") or None, get("sitename") or None,
                get("date") or None)
