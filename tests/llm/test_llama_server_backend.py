"""The ``openai`` backend against a real OpenAI-compatible server: llama.cpp's own
(``python -m llama_cpp.server``) on loopback with the desk's GGUF.  Slow: the server loads the
1.1 GB model, and each call evaluates a prompt on 2 cores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from service.config import Settings
from service.errors import ModelMissing
from service.llm.base import ChatMessage
from service.llm.openai_backend import OpenAIBackend
from service.llm.registry import create_backend

pytestmark = pytest.mark.slow

SYSTEM = ChatMessage("system", "You answer questions from the numbered sentences only, citing them like [S1].")
PROMPT = [SYSTEM, ChatMessage("user", "[S1] The museum reopened in May after a fire.\n"
                                      "[S2] The fire destroyed 40 paintings, the museum's director said.\n"
                                      "[S0] (None of the sentences above answers the question.)\n"
                                      "Question: How many paintings did the fire destroy?")]
PREFILL = "The sentence that answers the question is [S"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[OpenAIBackend, Settings]]:
    pytest.importorskip("llama_cpp.server.app")
    from benchmarks.llama_server import ALIAS, llama_server

    base = tmp_path_factory.mktemp("llama-server")
    real = Settings(data_dir=base / "data")  # default cache_dir: the GGUF joined once per machine
    try:
        with llama_server(real, log_path=base / "server.log") as url:
            settings = Settings(data_dir=base / "data", openai_base_url=url, llm_backend="openai")
            backend = create_backend("openai", settings, ALIAS)
            assert isinstance(backend, OpenAIBackend)
            yield backend, real
    except ModelMissing as exc:
        pytest.skip(exc.detail)


def test_the_vote_comes_from_the_servers_logprobs(server: tuple[OpenAIBackend, Settings]) -> None:
    backend, _ = server
    probs = backend.choice_probs(PROMPT, PREFILL, [0, 1, 2])
    assert probs is not None
    assert max(range(3), key=probs.__getitem__) == 2
    assert 0.0 <= sum(probs) <= 1.0 + 1e-6


def test_the_server_and_the_embedded_model_vote_alike(server: tuple[OpenAIBackend, Settings]) -> None:
    backend, real = server
    local = create_backend("local", real)
    served = backend.choice_probs(PROMPT, PREFILL, [0, 1, 2])
    embedded = local.choice_probs(PROMPT, PREFILL, [0, 1, 2])
    assert served is not None and embedded is not None
    assert max(range(3), key=served.__getitem__) == max(range(3), key=embedded.__getitem__)


def test_a_prefilled_answer_continues_after_the_evidence(server: tuple[OpenAIBackend, Settings],
                                                         tmp_path: Path) -> None:
    backend, _ = server
    start = ChatMessage("assistant", "Evidence: [S2]\nAnswer:")
    completion = backend.complete([*PROMPT, start], max_tokens=40)
    streamed = backend.stream([*PROMPT, start], max_tokens=40).consume()
    for text in (completion.text, streamed.text):
        assert "40" in text
        assert not text.strip().startswith(("Evidence", "Answer"))
    assert completion.text.strip() == streamed.text.strip()
