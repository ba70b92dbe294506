"""/v1/search: retrieval only (no model): sentences and chunks with scores."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from service.deps import ServicesDep
from service.errors import InvalidInput
from service.retrieval.search import SearchResult
from service.schemas import ChunkHitOut, SearchResponse, SentenceHitOut
from service.store.catalog import Filters
from service.timeutil import parse_bound

router = APIRouter(prefix="/v1", tags=["search"])


def to_response(result: SearchResult) -> SearchResponse:
    return SearchResponse(
        query=result.query,
        sentences=[SentenceHitOut(id=h.id, article_id=h.article_id, index=h.index, text=h.text, start=h.start,
                                  end=h.end, title=h.title, url=h.url, source=h.source,
                                  published_at=h.published_at, score=h.score, dense=h.dense, lexical=h.lexical)
                   for h in result.sentences],
        chunks=[ChunkHitOut(id=c.id, article_id=c.article_id, text=c.text, sentence_ids=c.sentence_ids,
                            score=c.score) for c in result.chunks],
    )


@router.get("/search", response_model=SearchResponse)
def search(
    services: ServicesDep,
    q: Annotated[str, Query(min_length=1, max_length=2000, description="The query.")],
    k: Annotated[int, Query(ge=1, le=100)] = 8,
    since: Annotated[str | None, Query(description="ISO date/datetime, inclusive.")] = None,
    until: Annotated[str | None, Query(description="ISO date/datetime; a date covers that day.")] = None,
    source: Annotated[list[str] | None, Query()] = None,
    article_id: Annotated[list[str] | None, Query()] = None,
) -> SearchResponse:
    if not q.strip():
        raise InvalidInput.for_field("q", "query is blank")
    filters = Filters(sources=tuple(source or ()), article_ids=tuple(article_id or ()),
                      since=parse_bound(since, "since"), until=parse_bound(until, "until", upper=True))
    return to_response(services.retriever.search(q, k=k, filters=filters))
