"""Turn files into raw article dicts: .txt, .md, .html, .json, .jsonl, and JSONL on stdin.

A .txt or .md file may start with front matter: ``key: value`` lines between two ``---`` lines,
with the keys of :class:`~service.ingest.article.ArticleInput` (``title``, ``source``, ``url``,
``published_at``, ``id``)::

    ---
    title: Putin thanks North Korea for sending troops to fight Ukraine
    source: Fox News
    published_at: 2025-04-28
    ---
    Russian President Vladimir Putin on Monday thanked North Korea ...

Values are plain text up to the end of the line (a colon inside is fine; one pair of matching
surrounding quotes is removed).  The text after the closing ``---`` line is the article, stored
exactly.  A key with an empty value is left unset; an unknown key is reported by validation
like any unknown field.

Parsing never validates; :class:`service.ingest.article.ArticleInput` does, the same way for
files and for HTTP.  A file that cannot be read raises :class:`InvalidInput` naming the file.
"""

from __future__ import annotations

import glob
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.errors import InvalidInput
from service.ingest.dates import DateError, parse_date

SUPPORTED = {".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl"}
_SENTENCE_END = re.compile(r"[.!?…”\"’')\]]$")


@dataclass(frozen=True)
class RawItem:
    """An article-shaped dict and where it came from (for error messages)."""

    origin: str
    data: dict[str, Any] | None
    error: str | None = None


def expand_paths(args: Iterable[str]) -> Iterator[Path]:
    """Files, folders (recursively, supported suffixes only) and glob patterns; each file once."""
    seen: set[Path] = set()
    for path in _expand(args):
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            yield path


def _expand(args: Iterable[str]) -> Iterator[Path]:
    for arg in args:
        matches = [Path(p) for p in glob.glob(arg, recursive=True)] if any(c in arg for c in "*?[") else [Path(arg)]
        if not matches:
            yield Path(arg)  # reported as missing by read_path
        for path in matches:
            if path.is_dir():
                yield from sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED)
            else:
                yield path


def read_path(path: Path) -> list[RawItem]:
    """Parse one file into raw items; problems come back as items with ``error`` set."""
    items = _read_path(path)
    return items if path.suffix.lower() == ".jsonl" else [with_iso_date(item) for item in items]


def with_iso_date(item: RawItem) -> RawItem:
    """Files carry dates as their publishers wrote them (``2023/01/05``, RFC 822 ...): rewrite
    ``published_at`` as the ISO 8601 value the JSON API would take, or fail the item clearly."""
    if item.data is None or not isinstance(item.data.get("published_at"), str):
        return item
    try:
        iso = parse_date(item.data["published_at"]).isoformat()
    except DateError as exc:
        return RawItem(item.origin, None, f"published_at: {exc}")
    return RawItem(item.origin, {**item.data, "published_at": iso})


def _read_path(path: Path) -> list[RawItem]:
    origin = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return [RawItem(origin, None, f"cannot read file: {exc.strerror or exc}")]
    try:
        text = decode(raw, field=origin)
    except InvalidInput as exc:
        return [RawItem(origin, None, exc.detail)]
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return list(parse_jsonl(json_lines(text), origin))  # dates are read there (stdin too)
    if suffix == ".json":
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            return [RawItem(origin, None, f"invalid JSON: {exc.msg} at line {exc.lineno}")]
        docs = doc if isinstance(doc, list) else [doc]
        return [RawItem(f"{origin}[{i}]", d, None) if isinstance(d, dict)
                else RawItem(f"{origin}[{i}]", None, "not a JSON object") for i, d in enumerate(docs)]
    converters = {".html": html_to_article, ".htm": html_to_article, ".md": markdown_to_article,
                  ".markdown": markdown_to_article, ".txt": text_to_article}
    if suffix in converters:
        meta, body = split_front_matter(text) if suffix in FRONT_MATTER_SUFFIXES else ({}, text)
        if "title" in meta and suffix == ".txt":
            data = {"text": body}  # the front matter names the title: no first-line guess
        else:
            data = converters[suffix](body)
        data.update(meta)
        # A file's id is its name, so editing the file and ingesting again updates the article.
        data.setdefault("id", file_id(path))
        return [RawItem(origin, data)]
    return [RawItem(origin, None, f"unsupported file type {suffix or '(none)'}; use one of {sorted(SUPPORTED)}")]


FRONT_MATTER_SUFFIXES = {".txt", ".md", ".markdown"}
_FENCE = re.compile(r"^---[ \t]*\r?$")
_META_LINE = re.compile(r"^(?P<key>[A-Za-z_][A-Za-z0-9_]*)[ \t]*:[ \t]*(?P<value>.*?)[ \t]*\r?$")


def split_front_matter(text: str) -> tuple[dict[str, str], str]:
    """``({key: value}, body)`` of a text that opens with front matter, else ``({}, text)``.

    A block that is not well formed (no closing ``---``, or a line that is not ``key: value``,
    a ``#`` comment or blank) is not front matter: the whole text is the article.
    """
    lines = text.lstrip("\ufeff").split("\n")
    if not lines or not _FENCE.match(lines[0]):
        return {}, text
    meta: dict[str, str] = {}
    for n, line in enumerate(lines[1:], 1):
        if _FENCE.match(line):
            return meta, "\n".join(lines[n + 1 :])
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _META_LINE.match(line)
        if m is None:
            return {}, text
        value = m.group("value")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        if value:  # "url:" with nothing after it leaves the field unset
            meta[m.group("key")] = value
    return {}, text


def file_id(path: Path) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", path.stem).strip("-._")[:128]
    return stem or "file"


def json_lines(text: str) -> list[str]:
    """Split JSON Lines at \\n only: U+2028 and friends may appear raw inside JSON strings."""
    return [line.removesuffix("\r") for line in text.split("\n")]


def parse_jsonl(lines: Iterable[str], origin: str) -> Iterator[RawItem]:
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{origin}:{n}"
        try:
            doc = json.loads(line)
        except json.JSONDecodeError as exc:
            yield RawItem(where, None, f"invalid JSON: {exc.msg}")
            continue
        yield with_iso_date(RawItem(where, doc if isinstance(doc, dict) else None,
                                    None if isinstance(doc, dict) else "not a JSON object"))


def decode(raw: bytes, *, field: str) -> str:
    if b"\x00" in raw[:8192]:
        raise InvalidInput.for_field(field, "binary content (NUL bytes); expected UTF-8 text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput.for_field(field, f"not valid UTF-8 (byte {exc.start})") from exc


def text_to_article(text: str) -> dict[str, Any]:
    """Plain text: the first line is the title.

    When that line reads as a headline (short, no closing punctuation) it is taken out of the
    body; when it is a full sentence (as in wire copy with no headline) it stays in the body.
    """
    first, _, rest = text.lstrip("\ufeff").partition("\n")
    title = first.strip()
    is_headline = len(title) <= 150 and not _SENTENCE_END.search(title) and rest.strip()
    if is_headline:
        return {"title": title, "text": rest.strip("\n")}
    return {"title": title if len(title) <= 150 else title[:147].rsplit(" ", 1)[0] + "…", "text": text}


def markdown_to_article(text: str) -> dict[str, Any]:
    """Markdown: a leading ``# heading`` is the title; the body keeps its text, minus markup."""
    title = None
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip():
            m = re.match(r"^#{1,6}\s+(.*)", line)
            if m:
                title = m.group(1).strip()
                lines = lines[i + 1 :]
            break
    body = "\n".join(_strip_markdown(line) for line in lines).strip("\n")
    return {"title": title, "text": body} if title else text_to_article(body)


def _strip_markdown(line: str) -> str:
    line = re.sub(r"^#{1,6}\s+", "", line)
    line = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", line)
    line = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", line)
    line = re.sub(r"(\*\*|__)(.+?)\1", r"\2", line)
    line = re.sub(r"(?<!\w)[*_](\S.*?)[*_](?!\w)", r"\1", line)
    return re.sub(r"`([^`]*)`", r"\1", line)


def html_to_article(html: str) -> dict[str, Any]:
    """Main text of an HTML page with trafilatura (scripts, navigation and footers dropped)."""
    import trafilatura

    text = trafilatura.extract(html, include_comments=False, include_tables=False, favor_precision=True) or ""
    meta = trafilatura.extract_metadata(html)
    out: dict[str, Any] = {"text": text}
    if meta is not None:
        if meta.title:
            out["title"] = meta.title
        if meta.url:
            out["url"] = meta.url
        if meta.sitename:
            out["source"] = meta.sitename
        if meta.date:
            out["published_at"] = meta.date
    return out
