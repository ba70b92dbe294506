"""The article input model, validated at every door (HTTP, files, stdin), and its processing
into sentences and chunks: parse -> clean -> segment -> chunk.
"""

from __future__ import annotations

import hashlib
import re
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from service.ingest.clean import boilerplate_reason
from service.ingest.dates import parse_iso
from service.ingest.segment import LINE_BREAK_CHARS, split_sentences
from service.tokens import get_encoding

_LINE_BREAK = re.compile(f"[{LINE_BREAK_CHARS}]")
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"


class ArticleInput(BaseModel):
    """One article as a client sends it. Unknown fields are an error."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    id: str | None = Field(default=None, pattern=ID_PATTERN,
                           description="Stable id; derived from url or content when absent.")
    title: str | None = Field(default=None, max_length=1000)
    text: str = Field(description="Full article text, stored exactly as given.")
    url: str | None = Field(default=None, max_length=4000)
    source: str | None = Field(default=None, max_length=200,
                               description="Outlet name; defaults to the url's host.")
    published_at: datetime | None = Field(
        default=None, description="ISO 8601 date or datetime; naive values are taken as UTC."
    )

    @field_validator("text")
    @classmethod
    def _text_not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("text is empty or whitespace only")
        if "\x00" in v:
            raise ValueError("text contains NUL bytes; binary content is not an article")
        return v

    @field_validator("title", "source", "url")
    @classmethod
    def _no_nul(cls, v: str | None) -> str | None:
        if v is not None and "\x00" in v:
            raise ValueError("contains a NUL character (U+0000)")
        return v

    @field_validator("published_at", mode="before")
    @classmethod
    def _iso_strings(cls, v: object) -> object:
        # Strings must be ISO 8601 (a plain date is midnight UTC); a clear error says what to send
        # instead.  Files and feeds read other formats first (service.ingest.dates.parse_date).
        return parse_iso(v) if isinstance(v, str) else v

    @field_validator("published_at")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            return v.replace(tzinfo=UTC)
        return v

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        if v is None:
            return v
        parts = urlsplit(v.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("url must be an absolute http(s) URL")
        return v.strip()


@dataclass(frozen=True, slots=True)
class Sentence:
    index: int
    start: int
    end: int
    text: str
    boilerplate: str | None = None  # reason, when the sentence is never indexed


@dataclass(frozen=True, slots=True)
class Chunk:
    index: int
    text: str
    sentence_indexes: tuple[int, ...]
    tokens: int


@dataclass(slots=True)
class ProcessedArticle:
    id: str
    title: str
    text: str
    url: str | None
    source: str
    published_at: datetime | None
    content_hash: str
    sentences: list[Sentence]
    chunks: list[Chunk] = field(default_factory=list)

    @property
    def version(self) -> str:
        return self.content_hash[:12]

    @property
    def indexed(self) -> list[Sentence]:
        return [s for s in self.sentences if s.boilerplate is None]

    def sentence_id(self, index: int) -> str:
        return f"{self.id}:{index}"

    @property
    def context_title(self) -> str | None:
        """The headline, when there is a real one: not a title made from the first sentence."""
        title = self.title.removesuffix("…").strip()
        first = next((s.text for s in self.indexed), "")
        return None if not title or first.startswith(title) else self.title


def content_hash(item: ArticleInput) -> str:
    """Hash of everything that is stored; re-ingesting the same content is a no-op."""
    h = hashlib.sha256()
    for part in (item.title or "", item.text, item.url or "", item.source or "",
                 item.published_at.isoformat() if item.published_at else ""):
        h.update(part.encode())
        h.update(b"\x1f")
    return h.hexdigest()


def derive_id(item: ArticleInput) -> str:
    if item.id:
        return item.id
    basis = _normalise_url(item.url) if item.url else item.text.strip()
    prefix = "u" if item.url else "c"
    return prefix + hashlib.sha256(basis.encode()).hexdigest()[:16]


def _normalise_url(url: str) -> str:
    p = urlsplit(url)
    return f"{p.netloc.lower().removeprefix('www.')}{p.path.rstrip('/')}" + (f"?{p.query}" if p.query else "")


def segment(text: str) -> list[Sentence]:
    """Sentences with exact offsets, each marked with its boilerplate reason (if any)."""
    out: list[Sentence] = []
    breaks = [m.start() for m in _LINE_BREAK.finditer(text)]
    for i, span in enumerate(split_sentences(text)):
        n = bisect_left(breaks, span.start)
        line_start = breaks[n - 1] + 1 if n else 0
        m = bisect_left(breaks, span.end)
        line_end = breaks[m] if m < len(breaks) else len(text)
        own_line = not text[line_start:span.start].strip() and not text[span.end:line_end].strip()
        out.append(Sentence(i, span.start, span.end, span.text,
                            boilerplate_reason(span.text, line_is_own=own_line)))
    return out


def join_sentences(texts: Sequence[str]) -> tuple[str, list[tuple[int, int]]]:
    """Sentences joined with one space (a chunk's text), and each sentence's span in the result."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for t in texts:
        spans.append((pos, pos + len(t)))
        pos += len(t) + 1
    return " ".join(texts), spans


def chunk(sentences: list[Sentence], *, max_tokens: int, overlap_tokens: int,
          encoding: str = "cl100k_base") -> list[Chunk]:
    """Sentence-aligned windows of at most ``max_tokens`` tiktoken tokens.

    Consecutive windows share trailing sentences worth at most ``overlap_tokens``.  A sentence
    longer than the window forms a chunk of its own.  Boilerplate is never chunked.
    """
    enc = get_encoding(encoding)

    def count(text: str) -> int:
        return len(enc.encode(text, disallowed_special=()))

    content = [s for s in sentences if s.boilerplate is None]
    # Sentences are joined with a space and " 10,000" can be a token longer than "10,000" (or
    # shorter, for other strings): budget each sentence at the larger of the two counts.
    sizes = [max(count(s.text), count(" " + s.text)) for s in content]
    chunks: list[Chunk] = []
    i = 0
    while i < len(content):
        j, total = i, 0
        while j < len(content) and (j == i or total + sizes[j] <= max_tokens):
            total += sizes[j]
            j += 1
        text = join_sentences([s.text for s in content[i:j]])[0]
        tokens = count(text)
        while tokens > max_tokens and j - i > 1:  # BPE merges can still differ from the sum
            j -= 1
            text = join_sentences([s.text for s in content[i:j]])[0]
            tokens = count(text)
        chunks.append(Chunk(len(chunks), text, tuple(s.index for s in content[i:j]), tokens))
        if j >= len(content):
            break
        # Step back over trailing sentences that fit in the overlap, but only as far as the
        # next window can still take the first new sentence (else it would repeat this one).
        k, back = j, 0
        while k - 1 > i and back + sizes[k - 1] <= overlap_tokens and back + sizes[k - 1] + sizes[j] <= max_tokens:
            k -= 1
            back += sizes[k]
        i = k
    return chunks


def process(item: ArticleInput, *, max_tokens: int, overlap_tokens: int,
            encoding: str = "cl100k_base") -> ProcessedArticle:
    sentences = segment(item.text)
    title = (item.title or "").strip() or _title_from(sentences, item.text)
    source = (item.source or "").strip() or (urlsplit(item.url).netloc.removeprefix("www.") if item.url else "unknown")
    art = ProcessedArticle(
        id=derive_id(item), title=title, text=item.text, url=item.url, source=source,
        published_at=item.published_at, content_hash=content_hash(item), sentences=sentences,
    )
    art.chunks = chunk(sentences, max_tokens=max_tokens, overlap_tokens=overlap_tokens, encoding=encoding)
    return art


def _title_from(sentences: list[Sentence], text: str) -> str:
    first = next((s.text for s in sentences if s.boilerplate is None), text.strip())
    return first if len(first) <= 120 else first[:117].rsplit(" ", 1)[0] + "…"
