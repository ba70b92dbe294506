"""POST /v1/ask: a short answer whose every sentence cites verified source sentences."""

from __future__ import annotations

import json
from collections.abc import Generator, Sequence

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from service.api.problems import TYPE_BASE
from service.api.streaming import ClosingStreamingResponse
from service.deps import ServicesDep
from service.errors import NewsdeskError
from service.generation.answer import AnswerResult, AskParams, answer, answer_stream
from service.generation.core import Citation
from service.generation.followup import Turn
from service.retrieval.question import Period
from service.schemas import (
    AnswerSentenceOut,
    AskRequest,
    AskResponse,
    CitationOut,
    EvidenceOut,
    FiltersIn,
    PeriodOut,
    ShortAnswerOut,
)
from service.store.catalog import Filters
from service.timeutil import parse_as_of, parse_bound

router = APIRouter(prefix="/v1", tags=["ask"])


def to_filters(f: FiltersIn | None) -> Filters:
    if f is None:
        return Filters()
    return Filters(sources=tuple(f.sources), article_ids=tuple(f.article_ids),
                   since=parse_bound(f.since, "filters.since"), until=parse_bound(f.until, "filters.until", upper=True))


def to_params(req: AskRequest) -> AskParams:
    return AskParams(question=req.question, filters=to_filters(req.filters), top_k=req.top_k,
                     prompt_version=req.prompt_version, model=req.model, flag_unsupported=req.flag_unsupported,
                     as_of=parse_as_of(req.as_of), history=tuple(Turn(t.role, t.content) for t in req.history))


def short_model(res: AnswerResult) -> ShortAnswerOut | None:
    span = res.short_answer
    marker = next((c.marker for c in res.citations if span is not None and c.hit.id == span.hit.id), None)
    if span is None or marker is None:
        return None
    return ShortAnswerOut(text=span.text, marker=marker, sentence_id=span.hit.id, article_id=span.hit.article_id,
                          start=span.start, end=span.end)


def period_model(p: Period | None) -> PeriodOut | None:
    if p is None:
        return None
    return PeriodOut(since=p.first_day, until=p.last_day, days=p.days)


def citations_out(res: AnswerResult) -> list[CitationOut]:
    return citation_models(res.citations)


def citation_models(citations: Sequence[Citation]) -> list[CitationOut]:
    """The /v1/ask citation shape; shared with /v1/summaries and /v1/briefings."""
    return [CitationOut(marker=c.marker, sentence_id=c.hit.id, article_id=c.hit.article_id, title=c.hit.title,
                        url=c.hit.url, source=c.hit.source, published_at=c.hit.published_at, quote=c.quote,
                        start=c.hit.start, end=c.hit.end, support=c.support) for c in citations]


def evidence_models(evidence: Sequence[Citation]) -> list[EvidenceOut]:
    return [EvidenceOut(sentence_id=c.hit.id, article_id=c.hit.article_id, title=c.hit.title, url=c.hit.url,
                        source=c.hit.source, published_at=c.hit.published_at, quote=c.quote, start=c.hit.start,
                        end=c.hit.end, score=c.hit.score, selection=c.selection) for c in evidence]


def to_response(res: AnswerResult) -> AskResponse:
    return AskResponse(
        answer=res.answer,
        mode=res.mode,  # type: ignore[arg-type]
        evidence=evidence_models(res.evidence),
        sentences=[AnswerSentenceOut(text=v.text, citations=[h.id for h in v.citations], markers=nums,
                                     support=v.support, flagged=v.flagged, reattributed=v.reattributed)
                   for v, nums in res.sentences],
        citations=citations_out(res), abstained=res.abstained, abstain_reason=res.abstain_reason,
        model=res.model, backend=res.backend, prompt=res.prompt, usage=res.usage, timings=res.timings,
        dropped_sentences=res.dropped, invalid_markers=res.invalid_markers, neutrality_fixes=res.neutrality_fixes,
        period=period_model(res.period), short_answer=short_model(res),
        standalone_question=res.standalone.question if res.standalone is not None else None,
    )


def sse(event: str, data: object) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _events(services: ServicesDep, params: AskParams) -> Generator[str, None, None]:
    try:
        for item in answer_stream(services, params):
            if isinstance(item, str):
                yield sse("delta", {"text": item})
            else:
                yield sse("final", to_response(item).model_dump())
    except NewsdeskError as exc:  # headers are gone: the error travels as an event
        yield sse("error", {"type": TYPE_BASE + exc.slug, "title": exc.title, "status": exc.status,
                            "detail": exc.detail})


@router.post("/ask", response_model=AskResponse,
             responses={200: {"content": {"text/event-stream": {}},
                              "description": "JSON, or Server-Sent Events when stream is true: "
                                             "`delta` events, then one `final` event (the JSON body)."}})
async def ask(req: AskRequest, services: ServicesDep) -> AskResponse | StreamingResponse:
    params = to_params(req)
    if req.stream:
        return ClosingStreamingResponse(_events(services, params), media_type="text/event-stream",
                                        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    return to_response(await run_in_threadpool(answer, services, params))
