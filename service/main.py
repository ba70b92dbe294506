"""The FastAPI app: ``create_app()`` builds the clients once in the lifespan."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date

import anyio.to_thread
from fastapi import FastAPI

from service.api import articles, ask, briefings, chat, feeds, health, keys, metrics, problems, search, summaries
from service.api.guard import GUARD_RESPONSES, GUARDS, ModelGate
from service.briefing_runs import start_day_briefings
from service.config import Settings, get_settings
from service.feeds.scheduler import start_feed_poller
from service.generation.schedule import start_scheduler
from service.ops.middleware import EdgeMiddleware
from service.runtime import Services, build_services
from service.web import pages

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *,
               services_factory: Callable[[Settings], Services] | None = None,
               on_startup: Callable[[Services], None] | None = None) -> FastAPI:
    """Build the app. ``services_factory`` lets tests inject fakes through the real wiring."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        cfg = settings or get_settings()
        services = (services_factory or build_services)(cfg)
        app.state.services = services
        app.state.model_gate = ModelGate(cfg.model_concurrency, cfg.model_queue_size, cfg.model_queue_timeout_s)
        app.state.ingest_gate = asyncio.Lock()  # one ingest request per worker in the threadpool at a time
        # Few threads: each busy Python thread takes the GIL from the event loop, and with 8+ the
        # loop fell so far behind that requests waited seconds before the shedder saw them.
        anyio.to_thread.current_default_thread_limiter().total_tokens = cfg.worker_threads or (
            4 + cfg.model_concurrency)
        if on_startup:
            on_startup(services)
        if cfg.seed_briefing_days:
            start_day_briefings(services, [date.fromisoformat(d) for d in cfg.seed_briefing_days.split(",") if d])
        scheduler = start_scheduler(services)  # daily briefing; one run per day across workers
        poller = start_feed_poller(services)  # followed feeds; each due feed polled once across workers
        try:
            yield
        finally:
            if poller is not None:
                poller.stop()
            if scheduler is not None:
                scheduler.stop()
            services.close()

    app = FastAPI(
        title="Newsdesk",
        version="0.1.0",
        summary="News Q&A, neutral summaries and briefings with verified sentence-level citations.",
        lifespan=lifespan,
    )
    problems.install(app)
    app.include_router(health.router)  # probes stay open
    for module in (articles, search, ask, chat, summaries, briefings, feeds, keys, metrics):
        # keys, scopes, rate limits, model slots
        app.include_router(module.router, dependencies=GUARDS, responses=GUARD_RESPONSES)
    app.add_middleware(EdgeMiddleware)  # request id, access log, metrics, shedding, body limit
    pages.install(app)  # the reader's desk at /
    return app


def worker_app() -> FastAPI:
    """The app of one ``newsdesk serve --workers N`` process (uvicorn factory; settings from env)."""
    from service.ops.logging import configure

    settings = get_settings()
    configure(settings.log_format)
    return create_app(settings)
