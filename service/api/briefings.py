"""Daily briefings: POST /v1/briefings builds and stores one; GET returns JSON, Markdown or HTML."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from service import briefing_runs as runs
from service.deps import ServicesDep
from service.generation.briefing import BriefingParams, build_briefing, get_briefing, parse_day
from service.generation.briefing_render import to_html, to_markdown
from service.schemas import BriefingOut, BriefingRequest, BriefingStatusOut

router = APIRouter(prefix="/v1", tags=["briefings"])


@router.post("/briefings", response_model=BriefingOut, status_code=201)
async def create_briefing(req: BriefingRequest, services: ServicesDep) -> BriefingOut:
    params = BriefingParams(parse_day(req.date), req.timezone or services.settings.briefing_timezone,
                            tuple(req.sources), req.model, req.prompt_version)
    return BriefingOut.model_validate(await run_in_threadpool(build_briefing, services, params))


@router.get("/briefings/{day}/status", response_model=BriefingStatusOut)
def briefing_status(
    day: str,
    services: ServicesDep,
    timezone: Annotated[str | None, Query(max_length=64)] = None,
    sources: Annotated[list[str] | None, Query()] = None,
) -> BriefingStatusOut:
    """Whether the day's briefing is stored, being built (e.g. the seeded days at start-up) or failed."""
    status = runs.briefing_status(services, parse_day(day), timezone or services.settings.briefing_timezone,
                                  sources or [])
    return BriefingStatusOut(**asdict(status))


@router.get("/briefings/{day}", response_model=BriefingOut,
            responses={200: {"content": {"text/markdown": {}, "text/html": {}},
                             "description": "JSON, or Markdown / HTML with ?format=md|html."}})
async def read_briefing(
    day: str,
    services: ServicesDep,
    format: Annotated[Literal["json", "md", "html"], Query()] = "json",
    timezone: Annotated[str | None, Query(max_length=64)] = None,
    sources: Annotated[list[str] | None, Query()] = None,
) -> Any:
    found = get_briefing(services, parse_day(day), timezone or services.settings.briefing_timezone, sources or [])
    if format == "md":
        return PlainTextResponse(to_markdown(found), media_type="text/markdown; charset=utf-8")
    if format == "html":
        return HTMLResponse(to_html(found))
    body: Response | BriefingOut = BriefingOut.model_validate(found)
    return body
