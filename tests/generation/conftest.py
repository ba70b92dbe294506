"""Fixtures shared by the answer-path tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from service.ingest.article import ArticleInput
from service.runtime import Services


@pytest.fixture
def seeded(services: Services, seed_text: str) -> Iterator[Services]:
    """The services with the seed article (North Korea's troops in Kursk) ingested."""
    services.store.ingest(ArticleInput(id="seed", title="North Korea troops", text=seed_text,
                                       source="Fox News", published_at="2025-04-28"))
    yield services
