"""The FastAPI app: ``create_app()`` builds the clients once in the lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from service.api import articles, ask, briefings, feeds, health, problems, search, summaries
from service.config import Settings, get_settings
from service.feeds.scheduler import start_feed_poller
from service.generation.schedule import start_scheduler
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
        if on_startup:
            on_startup(services)
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
    for module in (health, articles, search, ask, summaries, briefings, feeds):
        app.include_router(module.router)
    pages.install(app)  # the reader's desk at /
    return app
