"""Ingest entry point shared by the HTTP API and the CLI: validate each item, reject
ambiguous batches, write the valid items, and report every item's own outcome.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from service.errors import FieldError, InvalidInput
from service.ingest.article import ArticleInput, derive_id
from service.ingest.duplicates import link_copies
from service.store.articles import ArticleStore


@dataclass(slots=True)
class ItemOutcome:
    index: int
    origin: str
    id: str | None = None
    status: str = "failed"  # created | updated | unchanged | failed
    sentences: int = 0
    chunks: int = 0
    boilerplate: int = 0
    errors: list[FieldError] = field(default_factory=list)
    copies: list[str] = field(default_factory=list)
    """Stored articles this one is a near-duplicate of (wire copy), linked at ingest."""


def validation_errors(exc: ValidationError, prefix: str) -> list[FieldError]:
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"] if p != "__root__")
        name = f"{prefix}.{loc}" if prefix and loc else (prefix or loc or "body")
        out.append(FieldError(name, err["msg"].removeprefix("Value error, ")))
    return out


def validate(raw: Any, *, field_prefix: str, max_chars: int) -> ArticleInput:
    """One raw dict -> ArticleInput, or InvalidInput naming each bad field."""
    if not isinstance(raw, dict):
        raise InvalidInput(f"{field_prefix or 'body'}: expected a JSON object",
                           errors=[FieldError(field_prefix or "body", "expected a JSON object")])
    try:
        item = ArticleInput.model_validate(raw)
    except ValidationError as exc:
        errors = validation_errors(exc, field_prefix)
        raise InvalidInput("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors) from exc
    if len(item.text) > max_chars:
        name = f"{field_prefix}.text" if field_prefix else "text"
        raise InvalidInput.for_field(name, f"longer than the limit of {max_chars} characters")
    return item


def ingest_batch(store: ArticleStore, raws: Sequence[tuple[str, Any]], *, max_chars: int,
                 prefix: Callable[[int], str] = lambda i: f"[{i}]",
                 on_progress: Callable[[int], None] | None = None,
                 batch_size: int = 16) -> list[ItemOutcome]:
    """Validate and ingest ``(origin, raw_dict)`` pairs.

    Invalid items fail alone.  Two items with the same id make the batch ambiguous: nothing
    is written and InvalidInput names the second one.
    """
    outcomes: list[ItemOutcome] = []
    valid: list[tuple[ItemOutcome, ArticleInput]] = []
    seen: dict[str, int] = {}
    for i, (origin, raw) in enumerate(raws):
        out = ItemOutcome(i, origin)
        outcomes.append(out)
        try:
            item = validate(raw, field_prefix=prefix(i), max_chars=max_chars)
        except InvalidInput as exc:
            out.errors = exc.errors or [FieldError(prefix(i), exc.detail)]
            continue
        out.id = derive_id(item)
        if out.id in seen:
            name = f"{prefix(i)}.id" if prefix(i) else "id"
            raise InvalidInput.for_field(name, f"duplicate article id {out.id!r} (also item {seen[out.id]})")
        seen[out.id] = i
        valid.append((out, item))

    for start in range(0, len(valid), batch_size):
        part = valid[start : start + batch_size]
        results = store.ingest_many([item for _, item in part])
        for (out, _), res in zip(part, results, strict=True):
            out.id, out.status, out.sentences, out.chunks, out.boilerplate = (
                res.id, res.status, res.sentences, res.chunks, res.boilerplate)
        written = {o.id: o for o, _ in part if o.status in ("created", "updated") and o.id}
        for copy in link_copies(store.catalog, list(written)):
            written[copy.article_id].copies.append(copy.other_id)
        if on_progress:
            on_progress(len(part))
    if on_progress:
        on_progress(len(outcomes) - len(valid))
    return outcomes
