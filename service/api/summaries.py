"""POST /v1/summaries: a neutral summary whose every sentence cites verified source sentences."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from service.api.ask import citation_models
from service.deps import ServicesDep
from service.generation.summarize import SummaryParams, SummaryResult, summarize
from service.schemas import NeutralityOut, SummaryRequest, SummaryResponse, SummarySentenceOut
from service.store.catalog import Filters
from service.timeutil import parse_bound
from service.verify.neutrality import NeutralityReport

router = APIRouter(prefix="/v1", tags=["summaries"])


def to_params(req: SummaryRequest) -> SummaryParams:
    filters = Filters(sources=tuple(req.sources), since=parse_bound(req.since, "since"),
                      until=parse_bound(req.until, "until", upper=True))
    return SummaryParams(article_ids=tuple(req.article_ids), query=req.query, filters=filters, length=req.length,
                         style=req.style, prompt_version=req.prompt_version, model=req.model)


def neutrality_out(report: NeutralityReport) -> NeutralityOut:
    return NeutralityOut.model_validate(report.as_dict())


def to_response(res: SummaryResult) -> SummaryResponse:
    return SummaryResponse(
        summary=res.summary,
        sentences=[SummarySentenceOut(text=v.text, citations=[h.id for h in v.citations], markers=nums,
                                      support=v.support) for v, nums in res.sentences],
        citations=citation_models(res.citations), neutrality=neutrality_out(res.neutrality), model=res.model,
        backend=res.backend, prompt=res.prompt, usage=res.usage, timings=res.timings, articles=res.articles,
        calls=res.calls, dropped_sentences=res.dropped, extractive_fallback=res.extractive_fallback,
    )


@router.post("/summaries", response_model=SummaryResponse)
async def create_summary(req: SummaryRequest, services: ServicesDep) -> SummaryResponse:
    return to_response(await run_in_threadpool(summarize, services, to_params(req)))
