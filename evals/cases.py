"""What a suite runs: cases with their gold, over a corpus of articles the runner ingests."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from typing import Any

from evals.metrics.support import Span
from service.errors import InvalidInput

_BAD = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True, slots=True)
class Gold:
    answers: tuple[str, ...] = ()
    answerable: bool | None = None
    support: tuple[Span, ...] = ()  # gold evidence as character spans of article texts
    forbidden: tuple[str, ...] = ()  # must not appear in the output (injection payloads, leaks)
    reference: str | None = None  # reference summary
    standalone: str | None = None  # a follow-up question written to stand alone (the rewrite's gold)


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    article_ids: tuple[str, ...]  # retrieval is restricted to these (the case's corpus)
    question: str = ""
    gold: Gold = field(default_factory=Gold)
    tags: tuple[str, ...] = ()
    asked_at: str | None = None
    """ISO date the question was asked (RealTimeQA's question date): the ask runs as of it."""
    history: tuple[tuple[str, str], ...] = ()
    """Earlier (role, content) turns of a conversation: ``question`` follows up on them."""


@dataclass(slots=True)
class Dataset:
    cases: list[Case]
    articles: dict[str, dict[str, Any]]  # id -> ArticleInput fields
    shared_corpus: bool = False
    """True: every case searches the union of the selected cases' articles (one news corpus)."""
    whole_corpus: bool = False
    """True: every case searches every article of the data set, whichever cases are selected (a desk's
    whole archive as the haystack)."""

    def select(self, limit: int | None) -> list[Case]:
        """The first ``limit`` cases, each scoped to the articles it may search (none: all of them)."""
        cases = self.cases[:limit] if limit else list(self.cases)
        if self.whole_corpus:
            return [replace(c, article_ids=()) for c in cases]
        if not self.shared_corpus:
            return cases
        union = tuple(dict.fromkeys(a for c in cases for a in c.article_ids))
        return [replace(c, article_ids=union) for c in cases]

    def corpus(self, cases: list[Case]) -> list[dict[str, Any]]:
        if self.whole_corpus:
            return list(self.articles.values())
        wanted = dict.fromkeys(a for c in cases for a in c.article_ids)
        return [self.articles[a] for a in wanted]


def sanitize_id(text: str, max_len: int = 128) -> str:
    """A valid article id (``^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$``) that reads like ``text``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    out = _BAD.sub("_", ascii_text.strip()).strip("._-") or "x"
    return out[:max_len].rstrip("._-") or "x"


def add_article(articles: dict[str, dict[str, Any]], article: dict[str, Any]) -> None:
    """Add once; the same id with different content is a data error."""
    known = articles.get(article["id"])
    if known is not None and known != article:
        raise InvalidInput.for_field("dataset", f"article id {article['id']!r} is used for two different articles")
    articles[article["id"]] = article


def locate(text: str, quote: str, article_id: str) -> Span:
    start = text.find(quote)
    if start < 0:
        raise InvalidInput.for_field("dataset", f"gold quote not found in {article_id}: {quote[:60]!r}")
    return Span(article_id, start, start + len(quote))
