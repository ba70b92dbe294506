"""The OpenAI backend against a real local HTTP server (tests/llm/openai_stub_server.py)."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from service.config import Settings
from service.errors import ConfigError, UpstreamTimeout, UpstreamUnavailable
from service.llm.base import ChatMessage
from service.llm.openai_backend import VOTE_ASK, OpenAIBackend, parse_retry_after
from service.llm.registry import create_backend
from tests.llm.openai_stub_server import OpenAIStub, Reply, Status

KEY_ENV = "NEWSDESK_TEST_OPENAI_KEY"
MESSAGES = [ChatMessage("system", "Be brief."), ChatMessage("user", "Say hi.")]


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    with OpenAIStub() as server:
        yield server


def make_settings(tmp_path: Path, base_url: str | None, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "cache_dir": tmp_path / "cache",
        "openai_base_url": base_url,
        "openai_api_key_env": KEY_ENV,
        "llm_timeout_s": 5.0,
        "llm_max_retries": 2,
        "llm_retry_backoff_s": 0.01,
        "llm_retry_backoff_max_s": 1.0,
    }
    values.update(overrides)
    return Settings(**values)


def backend_for(stub: OpenAIStub, tmp_path: Path, **overrides: Any) -> OpenAIBackend:
    backend = create_backend("openai", make_settings(tmp_path, stub.url, **overrides), "stub-model")
    assert isinstance(backend, OpenAIBackend)
    return backend


def test_completion_round_trip(stub: OpenAIStub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-test-123")
    stub.push(Reply("Hello there.", model="stub-model-2024", prompt_tokens=17, completion_tokens=3))
    completion = backend_for(stub, tmp_path).complete(MESSAGES, max_tokens=20, stop=["\n\n"])

    assert completion.text == "Hello there."
    assert completion.model == "stub-model-2024"
    assert completion.backend == "openai"
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (17, 3)
    assert completion.finish_reason == "stop"
    assert completion.latency_ms > 0
    [request] = stub.requests
    assert request.headers["authorization"] == "Bearer sk-test-123"
    assert request.body["messages"] == [m.as_dict() for m in MESSAGES]
    assert request.body["model"] == "stub-model"
    assert request.body["max_tokens"] == 20
    assert request.body["temperature"] == 0.0
    assert request.body["stop"] == ["\n\n"]


def test_custom_base_url_without_key_sends_unused(
    stub: OpenAIStub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    backend_for(stub, tmp_path).complete(MESSAGES)
    assert stub.requests[0].headers["authorization"] == "Bearer unused"


def test_missing_key_for_real_openai_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    with pytest.raises(ConfigError, match=KEY_ENV):
        create_backend("openai", make_settings(tmp_path, None))


def test_default_model(tmp_path: Path, stub: OpenAIStub) -> None:
    assert create_backend("openai", make_settings(tmp_path, stub.url)).model == "gpt-4o-mini"


def test_streaming_sse(stub: OpenAIStub, tmp_path: Path) -> None:
    stub.push(Reply("one two three four", prompt_tokens=9, completion_tokens=4, finish_reason="length"))
    handle = backend_for(stub, tmp_path).stream(MESSAGES)
    deltas = list(handle)

    assert deltas == ["one", " two", " three", " four"]
    completion = handle.completion
    assert completion.text == "one two three four"
    assert completion.finish_reason == "length"
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (9, 4)
    assert stub.requests[0].body["stream"] is True
    assert stub.requests[0].body["stream_options"] == {"include_usage": True}


def test_streaming_server_that_rejects_stream_options(tmp_path: Path) -> None:
    with OpenAIStub(reject_stream_options=True) as stub:
        backend = backend_for(stub, tmp_path)
        first = backend.stream(MESSAGES)
        assert "".join(first) == "stub reply"
        assert first.completion.usage.prompt_tokens is None  # server sent no usage
        second = backend.stream(MESSAGES)
        assert "".join(second) == "stub reply"
    # first stream: rejected + plain retry; second stream: plain straight away
    assert ["stream_options" in r.body for r in stub.requests] == [True, False, False]


def test_429_with_retry_after_is_retried_and_honoured(stub: OpenAIStub, tmp_path: Path) -> None:
    stub.push(Status(429, "slow down", headers={"Retry-After": "0.3"}), Reply("finally"))
    start = time.perf_counter()
    completion = backend_for(stub, tmp_path, llm_retry_backoff_s=0.001).complete(MESSAGES)
    waited = time.perf_counter() - start

    assert completion.text == "finally"
    assert len(stub.requests) == 2
    assert waited >= 0.3  # Retry-After, not the 1 ms backoff


def test_persistent_500_gives_up_after_max_retries_plus_one(stub: OpenAIStub, tmp_path: Path) -> None:
    stub.push(*[Status(500, "boom")] * 10)
    backend = backend_for(stub, tmp_path, llm_max_retries=2)
    with pytest.raises(UpstreamUnavailable) as info:
        backend.complete(MESSAGES)

    assert len(stub.requests) == 3
    assert "3 attempt" in info.value.detail and "500" in info.value.detail
    assert info.value.retry_after is not None and info.value.retry_after >= 1


def test_persistent_503_retry_after_is_reported(stub: OpenAIStub, tmp_path: Path) -> None:
    stub.push(*[Status(503, "overloaded", headers={"Retry-After": "0.05"})] * 10)
    with pytest.raises(UpstreamUnavailable) as info:
        backend_for(stub, tmp_path, llm_max_retries=1).complete(MESSAGES)
    assert len(stub.requests) == 2
    assert info.value.retry_after == pytest.approx(0.05)


def test_zero_retries_means_one_attempt(stub: OpenAIStub, tmp_path: Path) -> None:
    stub.push(Status(502), Reply("never reached"))
    with pytest.raises(UpstreamUnavailable):
        backend_for(stub, tmp_path, llm_max_retries=0).complete(MESSAGES)
    assert len(stub.requests) == 1


def test_timeout_becomes_upstream_timeout(stub: OpenAIStub, tmp_path: Path) -> None:
    stub.push(Reply(delay_s=1.5), Reply(delay_s=1.5))
    backend = backend_for(stub, tmp_path, llm_timeout_s=0.2, llm_max_retries=1)
    start = time.perf_counter()
    with pytest.raises(UpstreamTimeout, match="2 attempt"):
        backend.complete(MESSAGES)
    assert time.perf_counter() - start < 1.4  # never waited for the slow server
    assert len(stub.requests) == 2


def test_timeout_then_success(stub: OpenAIStub, tmp_path: Path) -> None:
    stub.push(Reply(delay_s=1.0), Reply("quick"))
    completion = backend_for(stub, tmp_path, llm_timeout_s=0.2, llm_max_retries=1).complete(MESSAGES)
    assert completion.text == "quick"
    assert len(stub.requests) == 2


def test_stream_open_is_retried(stub: OpenAIStub, tmp_path: Path) -> None:
    stub.push(Status(503), Reply("after retry"))
    assert "".join(backend_for(stub, tmp_path).stream(MESSAGES)) == "after retry"
    assert len(stub.requests) == 2


def test_stream_that_stalls_mid_way_times_out(stub: OpenAIStub, tmp_path: Path) -> None:
    stub.push(Reply("a b c d", stall_after_chunks=2, stall_s=1.5))
    handle = backend_for(stub, tmp_path, llm_timeout_s=0.3).stream(MESSAGES)
    received: list[str] = []
    with pytest.raises(UpstreamTimeout):
        for delta in handle:
            received.append(delta)
    assert received == ["a", " b"]
    assert len(stub.requests) == 1  # text was already out: no silent re-send


def test_auth_failure_is_a_config_error_without_retry(stub: OpenAIStub, tmp_path: Path) -> None:
    stub.push(Status(401, "Incorrect API key provided"))
    with pytest.raises(ConfigError, match="401"):
        backend_for(stub, tmp_path).complete(MESSAGES)
    assert len(stub.requests) == 1


def test_bad_request_is_not_retried(stub: OpenAIStub, tmp_path: Path) -> None:
    stub.push(Status(400, "maximum context length exceeded"))
    with pytest.raises(UpstreamUnavailable, match="context length"):
        backend_for(stub, tmp_path).complete(MESSAGES)
    assert len(stub.requests) == 1


def test_connection_refused_is_unavailable(tmp_path: Path) -> None:
    with OpenAIStub() as stub:
        url = stub.url
    backend = create_backend("openai", make_settings(tmp_path, url, llm_max_retries=1))
    with pytest.raises(UpstreamUnavailable, match="2 attempt"):
        backend.complete(MESSAGES)


def test_parse_retry_after() -> None:
    assert parse_retry_after({"Retry-After": "2"}) == 2.0
    assert parse_retry_after({"retry-after-ms": "250"}) == 0.25
    assert parse_retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # in the past
    assert parse_retry_after({"Retry-After": "soon"}) is None
    assert parse_retry_after({"Retry-After": "-3"}) is None
    assert parse_retry_after({}) is None


# --- the vote from top_logprobs, and pre-filled replies --------------------------------------
PROMPT = [ChatMessage("system", "Pick the sentence."), ChatMessage("user", "[S1] a\n[S2] b\n[S0] none\nQuestion: q")]
PREFILL = "The sentence that answers the question is [S"


def lp(token: str, *top: tuple[str, float]) -> dict[str, Any]:
    return {"token": token, "logprob": top[0][1] if top else 0.0, "bytes": None,
            "top_logprobs": [{"token": t, "logprob": x, "bytes": None} for t, x in top]}


def test_choice_probs_reads_the_vote_from_top_logprobs(stub: OpenAIStub, tmp_path: Path) -> None:
    stub.push(Reply("[S2]", logprobs=[lp("[S", ("[S", -0.1)), lp("2", ("2", math.log(0.7)), ("1", math.log(0.2)),
                                                                      ("0", math.log(0.1))), lp("]", ("]", 0.0))]))
    probs = backend_for(stub, tmp_path).choice_probs(PROMPT, PREFILL, [0, 1, 2])

    assert probs == pytest.approx([0.1, 0.2, 0.7])
    [request] = stub.requests
    assert request.body["logprobs"] is True and request.body["top_logprobs"] == 20
    assert request.body["stream"] is True
    assert request.body["temperature"] == 0.0
    # the rendered prompt is the request's prefix (a server's prompt cache re-uses it); the ask ends it
    sent = request.body["messages"]
    assert sent[0] == PROMPT[0].as_dict() and sent[1]["content"].startswith(PROMPT[1].content)
    assert sent[1]["content"].endswith(VOTE_ASK) and len(sent) == 2


def test_a_server_without_logprobs_is_asked_once(stub: OpenAIStub, tmp_path: Path) -> None:
    backend = backend_for(stub, tmp_path)
    stub.push(Reply("[S2]"))  # no logprobs in the reply (an older Ollama, say)
    assert backend.choice_probs(PROMPT, PREFILL, [0, 1, 2]) is None
    assert backend.choice_probs(PROMPT, PREFILL, [0, 1, 2]) is None
    assert len(stub.requests) == 1


def test_a_server_that_refuses_logprobs_is_not_retried(stub: OpenAIStub, tmp_path: Path) -> None:
    stub.push(Status(400, "logprobs are not supported with this model"))
    backend = backend_for(stub, tmp_path)
    assert backend.choice_probs(PROMPT, PREFILL, [0, 1]) is None
    assert len(stub.requests) == 1
    assert backend.complete(MESSAGES).text == "stub reply"  # the backend still writes


def test_a_prefilled_reply_is_joined_to_the_user_turn_and_its_echo_cut(stub: OpenAIStub, tmp_path: Path) -> None:
    start = ChatMessage("assistant", "Evidence: [S2]\nAnswer:")
    stub.push(Reply("Answer: B happened. [S2]"))
    completion = backend_for(stub, tmp_path).complete([*PROMPT, start])

    assert completion.text.strip() == "B happened. [S2]"
    sent = stub.requests[0].body["messages"]
    assert [m["role"] for m in sent] == ["system", "user"]
    assert sent[1]["content"] == PROMPT[1].content + "\n\nEvidence: [S2]\nAnswer:"


def test_a_streamed_prefilled_reply_loses_its_echo(stub: OpenAIStub, tmp_path: Path) -> None:
    start = ChatMessage("assistant", "Evidence: [S2]\nAnswer:")
    stub.push(Reply("Evidence: [S2] Answer: B happened. [S2]"), Reply("B happened. [S2]"))
    backend = backend_for(stub, tmp_path)
    echoed = backend.stream([*PROMPT, start]).consume()
    plain = backend.stream([*PROMPT, start]).consume()
    assert echoed.text.strip() == "B happened. [S2]"  # whole pre-fill repeated (newline as a space)
    assert plain.text.strip() == "B happened. [S2]"
