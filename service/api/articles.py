"""/v1/articles: ingest (one or many), list, get, delete."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from service.api.problems import problem
from service.deps import ServicesDep
from service.errors import FieldError, InvalidInput, NotFound, PayloadTooLarge
from service.ingest.article import ArticleInput
from service.ingest.parse import decode
from service.ingest.pipeline import ingest_batch
from service.ops.metrics import INGEST_ARTICLES
from service.runtime import Services
from service.schemas import (
    ArticleMatchOut,
    ArticleOut,
    ArticlePage,
    BoilerplateOut,
    IngestItemResult,
    IngestResponse,
    SentenceOut,
)
from service.store.catalog import Filters
from service.timeutil import parse_bound

router = APIRouter(prefix="/v1/articles", tags=["articles"])

_ARTICLE_SCHEMA = ArticleInput.model_json_schema()
_BODY_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"oneOf": [
            _ARTICLE_SCHEMA, {"type": "array", "items": _ARTICLE_SCHEMA},
        ]}}},
    }
}


def _too_large(message: str) -> PayloadTooLarge:
    return PayloadTooLarge(message, errors=[FieldError("body", message)])


async def read_json_body(request: Request, limit: int) -> Any:
    """The body as JSON, refusing oversize, non-UTF-8, binary and malformed input."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _too_large(f"body is {declared} bytes; the limit is {limit}")
    raw = bytearray()
    async for part in request.stream():
        raw += part
        if len(raw) > limit:
            raise _too_large(f"body exceeds the limit of {limit} bytes")
    if not raw.strip():
        raise InvalidInput.for_field("body", "empty body; expected a JSON object or array")
    text = decode(bytes(raw), field="body")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise InvalidInput.for_field("body", f"invalid JSON: {exc.msg} at {where}") from exc


@router.post("", response_model=IngestResponse, openapi_extra=_BODY_SCHEMA,
             responses={207: {"model": IngestResponse, "description": "Some items failed"}})
async def ingest_articles(request: Request, services: ServicesDep) -> JSONResponse:
    """Ingest one article (object) or many (array).

    Each item gets its own result; an invalid item fails alone (207) while the others are
    written.  A single invalid object, or two items with one id, is a 422 and writes nothing.
    """
    settings = services.settings
    body = await read_json_body(request, settings.max_body_bytes)
    single = isinstance(body, dict)
    if not single and not isinstance(body, list):
        raise InvalidInput.for_field("body", "expected a JSON object or an array of objects")
    items = [body] if single else body
    if not items:
        raise InvalidInput.for_field("body", "empty array; send at least one article")
    prefix = (lambda i: "") if single else (lambda i: f"[{i}]")
    # in the threadpool, so embedding and writing do not stall this worker's other requests; one
    # batch per worker at a time (the writer lock serialises them anyway), so waiting batches
    # hold no thread
    async with request.app.state.ingest_gate:
        outcomes = await run_in_threadpool(ingest_batch, services.store,
                                           [(f"item {i}", it) for i, it in enumerate(items)],
                                           max_chars=settings.max_article_chars, prefix=prefix)
    for o in outcomes:
        INGEST_ARTICLES.labels(o.status).inc()
    if single and outcomes[0].status == "failed":
        errs = outcomes[0].errors
        raise InvalidInput("; ".join(f"{e.field}: {e.message}" for e in errs), errors=errs)
    results = [IngestItemResult(index=o.index, id=o.id, status=o.status,  # type: ignore[arg-type]
                                sentences=o.sentences, chunks=o.chunks, boilerplate=o.boilerplate,
                                errors=[e.as_dict() for e in o.errors], copies=o.copies)  # type: ignore[misc]
               for o in outcomes]
    counts = {s: sum(r.status == s for r in results) for s in ("created", "updated", "unchanged", "failed")}
    resp = IngestResponse(results=results, **counts)
    if counts["failed"] == len(results):  # nothing written: a problem, with every item's errors
        errors = [e for o in outcomes for e in o.errors]
        return problem(422, "invalid-input", "Invalid input", f"all {len(results)} items failed validation",
                       errors, extra={"results": [r.model_dump() for r in results]})
    return JSONResponse(resp.model_dump(), status_code=200 if counts["failed"] == 0 else 207)


def find_articles(services: Services, q: str | None, filters: Filters, *, limit: int, offset: int) -> ArticlePage:
    """Newest first; with ``q``, the articles whose sentences or headline match it, best first.
    Shared by this route and the article list page."""
    if q and q.strip():
        rows, total = services.catalog.search_articles(q, filters, limit=limit, offset=offset)
        matched = services.catalog.sentences_by_key([(r["id"], r["match_index"]) for r in rows])
    else:
        rows, total = services.catalog.list_articles(filters, limit=limit, offset=offset)
        matched = {}
    items = []
    for r in rows:
        idx = r.pop("match_index", None)
        s = matched.get((r["id"], idx))
        match = SentenceOut(id=f"{r['id']}:{idx}", index=s["idx"], text=s["text"], start=s["start"],
                            end=s["end"]) if s else None
        items.append(ArticleMatchOut(published_at=r.pop("published_iso"), match=match, **r))
    return ArticlePage(items=items, total=total, limit=limit, offset=offset)


@router.get("", response_model=ArticlePage)
def list_articles(
    services: ServicesDep,
    q: Annotated[str | None, Query(max_length=500, description="Words to look for in sentences and "
                                                                "headlines; results best first.")] = None,
    source: Annotated[list[str] | None, Query(description="Filter by outlet (repeatable).")] = None,
    since: Annotated[str | None, Query(description="ISO date/datetime, inclusive.")] = None,
    until: Annotated[str | None, Query(description="ISO date/datetime; a date covers that day.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**53)] = 0,
) -> ArticlePage:
    filters = Filters(sources=tuple(source or ()), since=parse_bound(since, "since"),
                      until=parse_bound(until, "until", upper=True))
    return find_articles(services, q, filters, limit=limit, offset=offset)


@router.get("/{article_id}", response_model=ArticleOut)
def get_article(article_id: str, services: ServicesDep) -> ArticleOut:
    art = services.catalog.get_article(article_id)
    if art is None:
        raise NotFound(f"article {article_id!r} does not exist")
    sentences, boiler = [], []
    for s in art["sentences"]:
        sid = f"{article_id}:{s['idx']}"
        if s["boilerplate"]:
            boiler.append(BoilerplateOut(id=sid, index=s["idx"], text=s["text"], start=s["start"], end=s["end"],
                                         reason=s["boilerplate"]))
        else:
            sentences.append(SentenceOut(id=sid, index=s["idx"], text=s["text"], start=s["start"], end=s["end"]))
    return ArticleOut(
        id=art["id"], title=art["title"], url=art["url"], source=art["source"], published_at=art["published_iso"],
        sentence_count=art["sentence_count"], chunk_count=art["chunk_count"], updated_at=art["updated_at"],
        text=art["text"], content_hash=art["content_hash"], ingested_at=art["ingested_at"],
        sentences=sentences, boilerplate=boiler, copies=services.catalog.copies(article_id),
    )


@router.delete("/{article_id}", status_code=204)
def delete_article(article_id: str, services: ServicesDep) -> Response:
    services.store.delete(article_id)
    return Response(status_code=204)


__all__ = ["ArticleInput", "router"]
