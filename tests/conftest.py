"""Shared fixtures: a real Chroma + catalogue in a temp dir and the real embedder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.config import REPO_ROOT, Settings
from service.ingest.parse import split_front_matter
from service.main import create_app
from service.runtime import Services, build_services
from vectorstore.embeddings import MiniLMEmbedding

# The learned abstention gate reads fitted parameters from the repo; tests of the answer path's
# logic must not depend on them (tests/generation/test_confidence.py turns it on with its own).
os.environ.setdefault("NEWSDESK_ABSTAIN_GATE", "false")

SEED = REPO_ROOT / "seeds" / "north-korea-troops-kursk.txt"
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def embedder() -> MiniLMEmbedding:
    return MiniLMEmbedding()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", llm_backend="fake")


@pytest.fixture
def services(settings: Settings, embedder: MiniLMEmbedding) -> Iterator[Services]:
    svc = build_services(settings, embedder=embedder)
    yield svc
    svc.close()


@pytest.fixture
def client(settings: Settings, embedder: MiniLMEmbedding) -> Iterator[TestClient]:
    app = create_app(settings, services_factory=lambda s: build_services(s, embedder=embedder))
    with TestClient(app) as c:
        yield c


@pytest.fixture
def seed_text() -> str:
    """The seed article's text, without its front matter (what ingest stores)."""
    return split_front_matter(SEED.read_text(encoding="utf-8"))[1]
