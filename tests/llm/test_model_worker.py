"""The model worker process: real processes, a real Unix socket and real signals; the model in it
is the scripted stand-in (``local_fake_llama``), so each test runs in a second or two."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.config import Settings
from service.errors import ConfigError, ModelCrashed, UpstreamUnavailable
from service.llm.base import ChatMessage
from service.llm.local import LocalBackend, model_health
from service.llm.supervisor import ModelWorker, exit_name, stop_workers
from service.llm.worker import CRASH_FILE_ENV
from service.serve import start_model

MESSAGES = [ChatMessage("user", "Sources:\n[S1] The council approved the budget on Tuesday.\nWhat happened?")]
REPLY = "The council approved the budget on Tuesday. [S1]"


@pytest.fixture
def crash_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Where the worker looks for the test-only crash switch (set before any worker starts)."""
    path = tmp_path / "crash-now"
    monkeypatch.setenv(CRASH_FILE_ENV, str(path))
    yield path
    stop_workers()  # no worker outlives its test


def fake_settings(tmp_path: Path, **extra: object) -> Settings:
    return Settings(data_dir=tmp_path / "data", cache_dir=tmp_path / "cache", llm_backend="local",
                    local_fake_llama=True, **extra)  # type: ignore[arg-type]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_calls_cross_the_process_boundary(tmp_path: Path, crash_file: Path) -> None:
    backend = LocalBackend(fake_settings(tmp_path))
    c = backend.complete(MESSAGES)
    assert (c.text, c.backend, c.finish_reason) == (REPLY, "local", "stop")
    handle = backend.stream(MESSAGES)
    assert "".join(handle) == REPLY and handle.completion.usage.completion_tokens == 8
    assert backend.choice_probs(MESSAGES, "[S", [1, 2]) is None  # the stand-in has no logits
    status = backend.worker_status()
    assert status["pid"] != os.getpid() and status["pid"] == backend._worker.pid  # type: ignore[union-attr]
    assert status["served"] == 3


def test_a_segfault_mid_stream_fails_that_call_only_and_the_worker_comes_back(tmp_path: Path,
                                                                             crash_file: Path) -> None:
    settings = fake_settings(tmp_path)
    backend = LocalBackend(settings)
    first_pid = backend.worker_status()["pid"]
    crash_file.touch()
    got: list[str] = []
    with pytest.raises(ModelCrashed) as info:
        for delta in backend.stream(MESSAGES):
            got.append(delta)
    assert got == ["The", " council"]  # the worker died after its second delta
    assert "SIGSEGV" in info.value.detail and info.value.retry_after and info.value.retry_after >= 1
    assert not crash_file.exists()  # one crash, not a crash loop

    assert backend.complete(MESSAGES).text == REPLY  # the next call waits for the new worker
    health = model_health(settings)
    assert health is not None and health["state"] == "running" and health["restarts"] == 1
    assert health["last_crash"]["how"] == "SIGSEGV" and health["last_crash"]["pid"] == first_pid
    assert health["pid"] != first_pid and not alive(first_pid)


def test_a_worker_killed_between_calls_is_replaced(tmp_path: Path, crash_file: Path) -> None:
    backend = LocalBackend(fake_settings(tmp_path))
    pid = backend.worker_status()["pid"]
    worker = backend._worker
    assert worker is not None
    os.kill(pid, signal.SIGKILL)  # what the OOM killer does
    assert worker.death_of(pid, wait_s=5) is not None
    assert backend.complete(MESSAGES).text == REPLY
    assert worker.restarts == 1 and worker.crashes[-1]["how"] == "SIGKILL"


def test_crashes_in_a_row_back_off(tmp_path: Path, crash_file: Path) -> None:
    worker = ModelWorker(fake_settings(tmp_path), "qwen2.5-coder-1.5b").start()
    try:
        client = worker.client()
        client.call({"op": "status"})
        waits = []
        for _ in range(2):
            os.kill(worker.pid or 0, signal.SIGKILL)
            worker.death_of(worker.pid, wait_s=5)
            waits.append(worker.retry_after())
            client.call({"op": "status"})
        assert waits[1] > waits[0]  # the second restart in a row waits longer
        assert worker.restarts == 2
    finally:
        worker.stop()
    assert worker.state == "stopped" and worker.pid is not None and not alive(worker.pid)


def test_the_model_is_busy_across_the_boundary_and_a_closed_stream_frees_it(tmp_path: Path,
                                                                            crash_file: Path) -> None:
    backend = LocalBackend(fake_settings(tmp_path, local_queue_timeout_s=0.3))
    backend.warm()
    # 200 words at the stand-in's 20 ms a word: the worker generates for 4 s
    long = [ChatMessage("user", "Sources:\n[S1] " + "word " * 200 + "end.\nWhat happened?")]
    handle = backend.stream(long)
    assert next(handle) == "word"  # the worker holds the model for this stream
    with pytest.raises(UpstreamUnavailable, match="busy"):
        backend.complete(MESSAGES)
    handle.close()  # hanging up stops the generation in the worker
    deadline = time.monotonic() + 5
    while True:
        try:
            assert backend.complete(MESSAGES).text == REPLY
            break
        except UpstreamUnavailable:
            assert time.monotonic() < deadline, "the closed stream never freed the model"


def test_the_worker_exits_when_its_parent_dies(tmp_path: Path) -> None:
    """A parent killed with SIGKILL runs no cleanup; the worker must not outlive it."""
    script = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from service.config import Settings
        from service.llm.local import LocalBackend
        b = LocalBackend(Settings(data_dir=Path({str(tmp_path)!r}) / "d", cache_dir=Path({str(tmp_path)!r}) / "c",
                                  local_fake_llama=True))
        print(b.worker_status()["pid"], flush=True)
        time.sleep(60)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        pid = int(parent.stdout.readline())
        assert alive(pid)
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 5
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(pid)


def test_serve_refuses_to_start_when_the_model_crashes_on_its_check(tmp_path: Path, crash_file: Path) -> None:
    crash_file.write_text("probe")
    with pytest.raises(ConfigError) as info:
        start_model(fake_settings(tmp_path))
    assert "SIGSEGV" in info.value.detail and "newsdesk doctor" in info.value.detail
    assert "make llama" in info.value.detail


def test_serve_starts_the_worker_and_checks_it(tmp_path: Path, crash_file: Path) -> None:
    settings = fake_settings(tmp_path)
    worker = start_model(settings)
    assert worker is not None and worker.state == "running"
    assert model_health(settings) == worker.status()
    worker.stop()


def test_exit_names() -> None:
    assert exit_name(-signal.SIGSEGV) == "SIGSEGV" and exit_name(-9) == "SIGKILL" and exit_name(3) == "exit 3"


def test_concurrent_first_calls_start_one_worker(tmp_path: Path, crash_file: Path) -> None:
    settings = fake_settings(tmp_path)
    pids: list[int] = []
    threads = [threading.Thread(target=lambda: pids.append(LocalBackend(settings).worker_status()["pid"]))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(pids) == 4 and len(set(pids)) == 1
