"""A live desk with the seeds, on loopback, for the chat clients (the fake backend: the wording
of an answer does not matter to these tests, its shape does)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from service.cli import gather, run_ingest
from service.config import REPO_ROOT, Settings
from service.llm.fake import FakeBackend
from service.main import create_app
from service.runtime import Services, build_services
from tests.live_server import serve

QUESTION = "Did Russia retake Kursk?"


@dataclass
class Desk:
    url: str
    services: Services

    @property
    def v1(self) -> str:
        return f"{self.url}/v1"

    @property
    def fake(self) -> FakeBackend:
        backend = self.services.backend("fake")
        assert isinstance(backend, FakeBackend)
        return backend


@pytest.fixture(scope="session")
def desk(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Iterator[Desk]:
    # no feed poller: this desk lives for the whole session, and the feed tests count pollers
    settings = Settings(data_dir=tmp_path_factory.mktemp("chat-desk"), llm_backend="fake", feed_poll=False)
    holder: dict[str, Services] = {}

    def factory(s: Settings) -> Services:
        holder["services"] = svc = build_services(s, embedder=embedder)
        return svc

    def seed(svc: Services) -> None:  # what `newsdesk serve --seed` ingests
        run_ingest(svc, gather([str(REPO_ROOT / "seeds")]), show_progress=False)

    with serve(create_app(settings, services_factory=factory, on_startup=seed)) as url:
        yield Desk(url, holder["services"])
