"""A follow-up conversation through the OpenAI endpoint with the real embedded model (slow)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest

from service.cli import gather, run_ingest
from service.config import REPO_ROOT, Settings
from service.main import create_app
from service.runtime import build_services
from tests.live_server import serve

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Iterator[openai.OpenAI]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("chat-local"), llm_backend="local")
    app = create_app(settings, services_factory=lambda s: build_services(s, embedder=embedder),
                     on_startup=lambda svc: run_ingest(svc, gather([str(REPO_ROOT / "seeds")]), show_progress=False))
    with serve(app) as url:
        yield openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=300)


def test_a_follow_up_retrieves_and_answers_the_casualty_figure(client: openai.OpenAI) -> None:
    first_q = "How many troops did North Korea send to Russia?"
    first = client.chat.completions.create(model="newsdesk", messages=[{"role": "user", "content": first_q}])
    said = first.choices[0].message.content or ""
    assert "10,000-12,000" in said
    follow = client.chat.completions.create(model="newsdesk", messages=[
        {"role": "user", "content": first_q}, {"role": "assistant", "content": said},
        {"role": "user", "content": "And how many were killed or wounded?"}])
    ext = follow.model_extra["newsdesk"]  # type: ignore[index]
    assert "North Korea" in ext["standalone_question"], ext["standalone_question"]
    assert not ext["abstained"], ext["abstain_reason"]
    assert any("4,000" in c["quote"] for c in ext["citations"]), ext["citations"]
    content = follow.choices[0].message.content or ""
    assert "4,000" in content and follow.choices[0].message.annotations
