"""The reader's desk: server-rendered pages at /, /articles, /briefings and /summaries.

A thin layer like the JSON API: each page calls the same pipeline functions as its /v1 route
and renders them with Jinja2 (autoescaped: every article title and text is escaped).  The page
script (static/desk.js) streams /v1/ask, shows a citation's quote on hover or focus, and opens
the cited sentence inside its article in a side pane.  Domain errors become an HTML page or an
error box here, as problem+json does for the API.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from service import briefing_runs as runs
from service.api.articles import find_articles, get_article
from service.api.summaries import to_params as summary_params
from service.api.summaries import to_response as summary_response
from service.deps import ServicesDep
from service.errors import InvalidInput, NewsdeskError, NotFound
from service.generation.briefing import BriefingParams, build_briefing, day_window, get_briefing, parse_day
from service.generation.summarize import summarize
from service.schemas import ArticleOut, SummaryRequest
from service.store.catalog import Filters
from service.timeutil import parse_bound

HERE = Path(__file__).parent
EXAMPLE_QUESTION = "How many troops did North Korea send to Russia, according to intelligence officials?"
PAGE_SIZE = 25
BOILERPLATE_LABELS = {
    "promo_headline": "promotional cross-headline",
    "trailer": "link trailer",
    "credit": "credit line",
}
FIX_LABELS = {
    "attribution_restored": "sentences given back their attribution",
    "loaded_restated": "sentences with loaded words replaced by their source sentence",
    "counterclaims_added": "counter-claims added beside their claim",
    "duplicates_removed": "repeated sentences removed",
    "contested_surfaced": "contested claims brought in with both sides",
}
SECURITY_HEADERS = {
    # everything the page needs is on this origin; no inline script, no third party
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

router = APIRouter(include_in_schema=False)


def _date10(value: str | None) -> str:
    return value[:10] if value else "undated"


def _support(value: object) -> str:
    """A support score as 0.00, or "" where there is none (briefing citations carry none)."""
    return f"{value:.2f}" if isinstance(value, int | float) else ""


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["date10"] = _date10
    env.filters["support"] = _support
    env.globals.update(BOILERPLATE_LABELS=BOILERPLATE_LABELS, FIX_LABELS=FIX_LABELS)
    return env


templates = Jinja2Templates(env=_environment())


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status_code, headers=SECURITY_HEADERS)


def not_found(request: Request, message: str) -> HTMLResponse:
    return render(request, "not_found.html", {"message": message}, status_code=404)


# --------------------------------------------------------------------------------------------
# Shapes the templates read
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Segment:
    """A run of an article's text: a sentence (indexed or boilerplate) or the text between two."""

    text: str
    index: int | None = None
    start: int | None = None
    end: int | None = None
    boilerplate: str | None = None


def segments(article: ArticleOut) -> list[Segment]:
    """The whole stored text, cut at the sentences' offsets: joined, the segments are the text."""
    spans = sorted([(s.start, s.end, s.index, None) for s in article.sentences]
                   + [(b.start, b.end, b.index, b.reason) for b in article.boilerplate])
    out: list[Segment] = []
    pos = 0
    for start, end, index, reason in spans:
        if start > pos:
            out.append(Segment(article.text[pos:start]))
        out.append(Segment(article.text[start:end], index, start, end, reason))
        pos = end
    if pos < len(article.text):
        out.append(Segment(article.text[pos:]))
    return out


def marker_map(citations: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Citation records by marker number, each with the sentence's index for its link."""
    return {c["marker"]: {**c, "index": int(str(c["sentence_id"]).rsplit(":", 1)[1])} for c in citations}


def _filters(sources: list[str], since: str | None, until: str | None) -> Filters:
    return Filters(sources=tuple(sources), since=parse_bound(since, "since"),
                   until=parse_bound(until, "until", upper=True))


# --------------------------------------------------------------------------------------------
# Pages
# --------------------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def desk(request: Request, services: ServicesDep) -> HTMLResponse:
    tz = services.settings.briefing_timezone
    days = runs.days_with_articles(services, tz)
    return render(request, "desk.html", {
        "page": "ask", "example": EXAMPLE_QUESTION, "sources": services.catalog.sources(),
        "briefing_days": [d for d in days if d[1] > 1][:5],
    })


@router.get("/articles", response_class=HTMLResponse)
def articles(
    request: Request,
    services: ServicesDep,
    q: Annotated[str | None, Query(max_length=500)] = None,
    source: Annotated[list[str] | None, Query()] = None,
    since: Annotated[str | None, Query(max_length=40)] = None,
    until: Annotated[str | None, Query(max_length=40)] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    chosen = source or []
    context: dict[str, Any] = {"page": "articles", "q": q or "", "chosen": chosen, "since": since or "",
                               "until": until or "", "sources": services.catalog.sources(), "error": None,
                               "result": None, "page_no": page}
    try:
        context["result"] = find_articles(services, q, _filters(chosen, since, until), limit=PAGE_SIZE,
                                          offset=(page - 1) * PAGE_SIZE)
    except InvalidInput as exc:
        context["error"] = exc.detail
    params = [(k, v) for k, v in [("q", q), ("since", since), ("until", until)] if v] + [("source", s) for s in chosen]
    context["page_link"] = lambda n: "/articles?" + urlencode([*params, ("page", n)])
    return render(request, "articles.html", context)


@router.get("/articles/{article_id}", response_class=HTMLResponse)
def article(request: Request, article_id: str, services: ServicesDep,
            partial: Annotated[bool, Query(description="Only the article, for the side pane.")] = False,
            ) -> HTMLResponse:
    try:
        art = get_article(article_id, services)
    except NotFound as exc:
        return not_found(request, exc.detail)
    context = {"page": "articles", "article": art, "segments": segments(art),
               "boilerplate_count": len(art.boilerplate)}
    return render(request, "article_pane.html" if partial else "article.html", context)


@router.get("/briefings", response_class=HTMLResponse, response_model=None)
def briefings(request: Request, services: ServicesDep,
              date: Annotated[str | None, Query(max_length=20)] = None) -> Response:
    if date:
        try:
            return RedirectResponse(f"/briefings/{parse_day(date).isoformat()}", status_code=303)
        except InvalidInput as exc:
            return not_found(request, exc.detail)
    tz = services.settings.briefing_timezone
    return render(request, "briefings.html", {"page": "briefings", "days": runs.days_with_articles(services, tz),
                                              "timezone": tz})


@router.get("/briefings/{day}", response_class=HTMLResponse)
def briefing(request: Request, day: str, services: ServicesDep) -> HTMLResponse:
    try:
        when = parse_day(day)
    except InvalidInput as exc:
        return not_found(request, exc.detail)
    tz = services.settings.briefing_timezone
    status = runs.briefing_status(services, when, tz)
    context: dict[str, Any] = {"page": "briefings", "day": when, "timezone": tz, "status": status,
                               "prev_day": when - timedelta(days=1), "next_day": when + timedelta(days=1),
                               "briefing": None, "markers": {}, "day_articles": [],
                               "building_for": round(time.time() - status.started_at) if status.started_at else None}
    if status.state == "ready":
        found = get_briefing(services, when, tz)
        context["briefing"] = found
        context["markers"] = marker_map(found["citations"])
        context["headlines"] = {s["id"]: s["headline"] for s in found["stories"]}
    else:
        since, until = day_window(when, tz)
        context["day_articles"] = find_articles(services, None, Filters(since=since, until=until), limit=100,
                                                offset=0).items
    return render(request, "briefing.html", context)


@router.post("/briefings/{day}", response_class=HTMLResponse, response_model=None)
async def build_briefing_page(request: Request, day: str, services: ServicesDep) -> Response:
    """The page's "Build it now" button (no script needed): build, then show the briefing."""
    try:
        params = BriefingParams(parse_day(day), services.settings.briefing_timezone)
        await run_in_threadpool(build_briefing, services, params)
    except NewsdeskError as exc:
        return render(request, "not_found.html" if exc.status == 404 else "error.html",
                      {"message": exc.detail, "title": exc.title}, status_code=exc.status)
    return RedirectResponse(f"/briefings/{params.day.isoformat()}", status_code=303)


def _summary_context(services: ServicesDep, form: dict[str, list[str]]) -> dict[str, Any]:
    ids = tuple(dict.fromkeys(i for i in form.get("article", []) if i))[:500]
    rows = services.catalog.list_articles(Filters(article_ids=ids), limit=len(ids), offset=0)[0] if ids else []
    first = {k: (v[0] if v else "") for k, v in form.items()}
    return {"page": "summaries", "selected": rows, "query": first.get("query", ""),
            "length": first.get("length") or "medium", "style": first.get("style") or "paragraph",
            "result": None, "markers": {}, "error": None}


@router.get("/summaries", response_class=HTMLResponse)
def summaries(request: Request, services: ServicesDep) -> HTMLResponse:
    form = {k: request.query_params.getlist(k) for k in request.query_params}
    return render(request, "summaries.html", _summary_context(services, form))


@router.post("/summaries", response_class=HTMLResponse)
async def summarise(request: Request, services: ServicesDep) -> HTMLResponse:
    raw = (await request.body())[:100_000].decode("utf-8", errors="replace")
    form = parse_qs(raw, keep_blank_values=False)
    context = _summary_context(services, form)
    if not context["selected"] and not context["query"].strip():
        context["error"] = "Give a topic, or select the articles to summarise."
        return render(request, "summaries.html", context, status_code=422)
    try:
        req = SummaryRequest(article_ids=[r["id"] for r in context["selected"]], query=context["query"] or None,
                             length=context["length"], style=context["style"])
    except ValidationError as exc:
        context["error"] = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return render(request, "summaries.html", context, status_code=422)
    try:
        result = summary_response(await run_in_threadpool(summarize, services, summary_params(req)))
    except NewsdeskError as exc:
        context["error"] = exc.detail
        return render(request, "summaries.html", context, status_code=exc.status)
    context["result"] = result.model_dump()
    context["markers"] = marker_map(context["result"]["citations"])
    return render(request, "summaries.html", context)


def install(app: FastAPI) -> None:
    """Mount the desk's static files and pages on ``app``."""
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(router)


__all__ = ["EXAMPLE_QUESTION", "install", "router", "segments"]
