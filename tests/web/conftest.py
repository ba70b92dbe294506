"""A live server with the seeds (uvicorn on a free loopback port) and Debian's headless Chromium.

`make test` installs Chromium with apt (see the Makefile). A missing browser fails the browser
tests loudly; set NEWSDESK_SKIP_BROWSER=1 to skip them on purpose where it cannot be installed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from service.briefing_runs import start_seed_briefings
from service.cli import gather, run_ingest
from service.config import REPO_ROOT, Settings
from service.main import create_app
from service.runtime import Services, build_services
from tests.live_server import serve
from tests.web.live import CHROMIUM, CHROMIUM_ARGS, DELTA_DELAY_S, SKIP_BROWSER, Live, SlowStreamFake


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Iterator[Live]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("desk"), llm_backend="fake")
    holder: dict[str, Services] = {}

    def factory(s: Settings) -> Services:
        svc = build_services(s, embedder=embedder)
        svc.backends["fake"] = SlowStreamFake(DELTA_DELAY_S)
        holder["services"] = svc
        return svc

    def seed(svc: Services) -> None:  # what `newsdesk serve --seed` does, waiting for the briefings
        outcomes = run_ingest(svc, gather([str(REPO_ROOT / "seeds")]), show_progress=False)
        thread = start_seed_briefings(svc, [o.id for o in outcomes if o.id])
        assert thread is not None
        thread.join(120)

    app = create_app(settings, services_factory=factory, on_startup=seed)
    with serve(app) as url:
        yield Live(url, holder["services"])


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        if SKIP_BROWSER:
            pytest.skip("playwright is not installed and NEWSDESK_SKIP_BROWSER=1")
        pytest.fail("playwright is not installed: run `make test` (pip install -e '.[test]')")
    if not Path(CHROMIUM).exists():
        if SKIP_BROWSER:
            pytest.skip(f"{CHROMIUM} is missing and NEWSDESK_SKIP_BROWSER=1")
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium with apt "
                    "(or set NEWSDESK_CHROMIUM, or NEWSDESK_SKIP_BROWSER=1 to skip the browser tests)")
    expect.set_options(timeout=20_000)  # two busy cores
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, live: Live) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, base_url=live.url)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    yield pg
    context.close()
    assert not errors, f"the page logged errors: {errors}"


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the page screenshots go (NEWSDESK_SCREENSHOTS to keep them)."""
    where = os.environ.get("NEWSDESK_SCREENSHOTS")
    path = Path(where) if where else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path
