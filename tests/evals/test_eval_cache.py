"""The response cache: the same rendered prompt and parameters never reach the backend twice."""

from __future__ import annotations

from pathlib import Path

from evals.cache import CacheLedger, CachingBackend, EvalCallLog, ResponseCache
from service.llm.base import ChatMessage
from service.llm.fake import FakeBackend
from service.logs.calls import call_model

MSGS = [ChatMessage("system", "be brief"), ChatMessage("user", "[S1] The sky is blue.\nQuestion: colour?")]


def test_second_identical_call_is_a_hit_and_logged_as_cached(tmp_path: Path) -> None:
    inner, ledger = FakeBackend(), CacheLedger()
    backend = CachingBackend(inner, ResponseCache(tmp_path / "cache.sqlite3"), ledger)
    log = EvalCallLog(tmp_path / "logs.sqlite3", ledger)
    first = call_model(backend, MSGS, log=log, prompt_name="answer", prompt_version="v1", max_tokens=50)
    second = call_model(backend, MSGS, log=log, prompt_name="answer", prompt_version="v1", max_tokens=50)
    assert first.text == second.text == "The sky is blue. [S1]"
    assert len(inner.calls) == 1 and (ledger.hits, ledger.misses) == (1, 1)
    assert second.usage == first.usage and second.backend == "fake"
    rows = log.list()
    assert [r["cached"] for r in rows] == [True, False]  # newest first


def test_key_covers_parameters_model_and_prompt(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "cache.sqlite3")
    ledger = CacheLedger()
    a = CachingBackend(FakeBackend(), cache, ledger)
    b = CachingBackend(FakeBackend(model="other"), cache, ledger)
    a.complete(MSGS, max_tokens=50)
    a.complete(MSGS, max_tokens=51)
    b.complete(MSGS, max_tokens=50)
    a.complete([*MSGS[:1], ChatMessage("user", "changed")], max_tokens=50)
    assert ledger.hits == 0 and cache.count() == 4
    a.complete(MSGS, max_tokens=50)
    assert ledger.hits == 1


def test_streaming_goes_through_the_cache(tmp_path: Path) -> None:
    inner, ledger = FakeBackend(), CacheLedger()
    backend = CachingBackend(inner, ResponseCache(tmp_path / "c.sqlite3"), ledger)
    assert "".join(backend.stream(MSGS)) == "The sky is blue. [S1]"
    with backend.stream(MSGS) as handle:
        assert "".join(handle) == "The sky is blue. [S1]"
        assert handle.completion.text == "The sky is blue. [S1]"
    assert len(inner.calls) == 1 and ledger.hits == 1


def test_a_cached_vote_is_keyed_by_how_the_backend_asked_for_it(tmp_path: Path) -> None:
    cache, ledger = ResponseCache(tmp_path / "c.sqlite3"), CacheLedger()
    inner = FakeBackend()
    backend = CachingBackend(inner, cache, ledger)
    inner.push_choices([0.1, 0.9], [0.7, 0.3])
    assert backend.choice_probs(MSGS, "is [S", [0, 1]) == [0.1, 0.9]
    assert backend.choice_probs(MSGS, "is [S", [0, 1]) == [0.1, 0.9]  # a hit
    inner.scoring = "Reply with the marker only."  # an openai-style backend changed its ask
    assert backend.choice_probs(MSGS, "is [S", [0, 1]) == [0.7, 0.3]
    assert (ledger.hits, ledger.misses) == (1, 2)
