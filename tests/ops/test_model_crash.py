"""A real native crash of the model in the middle of a streamed answer, through `newsdesk serve`.

The server is the real command in its own process, on a loopback port; its model worker runs the
scripted stand-in (``NEWSDESK_LOCAL_FAKE_LLAMA=1``) and has the test-only crash switch: when the
crash file exists, the worker kills itself with SIGSEGV after the second delta of a stream.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from benchmarks.harness import service_env, start_service
from service.config import REPO_ROOT
from service.llm.worker import CRASH_FILE_ENV

QUESTION = "Who thanked North Korea for sending troops to fight alongside Russia?"  # the fake's reply answers it


def sse_events(text: str) -> list[tuple[str, dict]]:
    events = []
    for block in text.strip().split("\n\n"):
        name, _, data = block.partition("\n")
        events.append((name.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    return events


SETTINGS = {"llm_backend": "local", "local_fake_llama": "1", "feed_poll": "false"}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path, subprocess.Popen[bytes]]]:
    """`newsdesk serve` over the ingested seed (no background briefing to meet the crash switch)."""
    crash, data = tmp_path / "crash-now", tmp_path / "data"
    settings = {**SETTINGS, "test_worker_crash_file": str(crash)}  # NEWSDESK_TEST_WORKER_CRASH_FILE
    subprocess.run([sys.executable, "-m", "service.cli", "ingest", str(REPO_ROOT / "seeds")],
                   env=service_env(data, **settings), check=True, capture_output=True, timeout=120)
    svc = start_service(data, nice=0, **settings)
    try:
        yield svc.url, crash, svc.proc
    finally:
        svc.terminate()


def test_a_segfault_mid_answer_ends_that_stream_only(server: tuple[str, Path, subprocess.Popen[bytes]]) -> None:
    url, crash, proc = server
    health = httpx.get(f"{url}/healthz").json()
    assert health["model"]["state"] == "running" and health["model"]["restarts"] == 0
    worker_pid = health["model"]["pid"]
    assert worker_pid != proc.pid

    crash.touch()
    with httpx.Client(base_url=url, timeout=60) as c:
        r = c.post("/v1/ask", json={"question": QUESTION, "stream": True})
        assert r.status_code == 200
        events = sse_events(r.text)
        name, err = events[-1]
        assert name == "error", events
        assert err["type"].endswith("/model-crashed") and err["status"] == 503 and "SIGSEGV" in err["detail"]
        assert not crash.exists()

        # the server lived through it: the next question is answered, and everything else works
        again = c.post("/v1/ask", json={"question": QUESTION})
        assert again.status_code == 200, again.text
        body = again.json()
        assert body["citations"] and body["mode"] != "abstained"
        assert c.get("/v1/articles").json()["items"]
        assert c.get("/v1/search", params={"q": "Kursk"}).status_code == 200

        health = c.get("/healthz").json()["model"]
        assert health["restarts"] == 1 and health["last_crash"]["how"] == "SIGSEGV"
        assert health["last_crash"]["pid"] == worker_pid and health["pid"] != worker_pid
    assert proc.poll() is None  # serve never went down


def test_a_crash_in_a_plain_answer_is_503_model_crashed_with_retry_after(
        server: tuple[str, Path, subprocess.Popen[bytes]]) -> None:
    url, crash, proc = server
    crash.write_text("complete")
    r = httpx.post(f"{url}/v1/ask", json={"question": QUESTION}, timeout=60)
    assert r.status_code == 503, r.text[:600]
    assert r.status_code == 503 and r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["type"].endswith("/model-crashed") and "SIGSEGV" in problem["detail"]
    assert int(r.headers["retry-after"]) >= 1
    assert httpx.post(f"{url}/v1/ask", json={"question": QUESTION}, timeout=60).status_code == 200
    assert proc.poll() is None


def test_serve_refuses_to_start_with_a_clear_message_when_the_model_crashes(tmp_path: Path) -> None:
    crash = tmp_path / "crash-now"
    crash.write_text("probe")  # the worker dies with SIGSEGV in serve's start-up check
    env = {**os.environ, "NEWSDESK_DATA_DIR": str(tmp_path / "data"), "NEWSDESK_LOCAL_FAKE_LLAMA": "1",
           "NEWSDESK_LLM_BACKEND": "local", CRASH_FILE_ENV: str(crash)}
    # port 0: no port to race for; serve refuses before it binds anything
    r = subprocess.run([sys.executable, "-m", "service.cli", "serve", "--no-seed", "--port", "0"],
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 6, r.stderr  # ConfigError's exit code, not 139 (a segfault)
    assert "cannot run on this machine" in r.stderr and "SIGSEGV" in r.stderr and "newsdesk doctor" in r.stderr
    assert "Traceback" not in r.stderr


def test_serve_with_two_workers_shares_one_model_worker(tmp_path: Path) -> None:
    svc = start_service(tmp_path / "data", workers=2, seed=True, llm_backend="local", local_fake_llama="1",
                        feed_poll="false")
    try:
        models = set()
        for _ in range(12):  # connections land on either API process
            models.add(httpx.get(svc.url + "/healthz", timeout=10).json()["model"]["pid"])
        answer = httpx.post(svc.url + "/v1/ask", json={"question": QUESTION}, timeout=60)
        assert answer.status_code == 200
        assert len(models) == 1  # one model worker, started by serve, whichever process asked
        (pid,) = models
        assert pid not in (svc.proc.pid, None)
    finally:
        svc.terminate()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        raise AssertionError("the model worker outlived serve")
