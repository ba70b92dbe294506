"""Limits: 413 over real HTTP (urllib, Expect: 100-continue, chunked), shared GCRA rate limits
with 429 + Retry-After, the model queue's 503, request ids and /metrics."""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient

from service.api.guard import ModelGate
from service.config import Settings, parse_rate
from service.errors import Overloaded
from service.main import create_app
from service.runtime import build_services
from service.store.limits import RateLimiter
from vectorstore.server import free_port

PROBLEM = "application/problem+json"
LIMIT = 64 * 1024


def make_client(tmp_path: Path, embedder, **overrides) -> TestClient:
    settings = Settings(data_dir=tmp_path / "data", llm_backend="fake", **overrides)
    return TestClient(create_app(settings, services_factory=lambda s: build_services(s, embedder=embedder)))


# -- body size over a real socket ------------------------------------------------------------------
@pytest.fixture
def live_url(tmp_path: Path, embedder) -> Iterator[str]:
    settings = Settings(data_dir=tmp_path / "data", llm_backend="fake", max_body_bytes=LIMIT)
    app = create_app(settings, services_factory=lambda s: build_services(s, embedder=embedder))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def big_body(size: int) -> bytes:
    return json.dumps({"id": "big", "text": "word " * (size // 5)}).encode()


def test_oversized_body_from_urllib_gets_413_problem_not_a_reset(live_url: str) -> None:
    body = big_body(6 * LIMIT * 10)  # ~3.9 MB: far past what the socket buffers hold
    req = urllib.request.Request(live_url + "/v1/articles", data=body, headers={"content-type": "application/json"})
    assert "Expect" not in req.headers
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(req, timeout=60)
    err = caught.value
    assert err.code == 413
    assert err.headers["content-type"].startswith(PROBLEM)
    problem = json.loads(err.read())
    assert problem["status"] == 413 and problem["errors"][0]["field"] == "body"
    assert err.headers["x-request-id"]
    # the service is fine afterwards and wrote nothing
    with urllib.request.urlopen(live_url + "/v1/articles", timeout=30) as r:
        assert json.loads(r.read())["total"] == 0


def test_expect_100_continue_gets_413_before_uploading(live_url: str) -> None:
    host, port = live_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.putrequest("POST", "/v1/articles")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(50 * LIMIT))
    conn.putheader("Expect", "100-continue")
    conn.endheaders()  # no body sent at all
    resp = conn.getresponse()
    assert resp.status == 413 and resp.getheader("content-type").startswith(PROBLEM)
    assert json.loads(resp.read())["status"] == 413
    conn.close()


def test_chunked_bodies_are_limited_too_and_small_ones_pass(live_url: str) -> None:
    host, port = live_url.removeprefix("http://").split(":")

    def send_chunked(payload: bytes) -> tuple[int, dict]:
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        pieces = (payload[i : i + 8192] for i in range(0, len(payload), 8192))
        conn.request("POST", "/v1/articles", body=pieces, headers={"Content-Type": "application/json"},
                     encode_chunked=True)
        resp = conn.getresponse()
        out = resp.status, json.loads(resp.read())
        conn.close()
        return out

    status, problem = send_chunked(big_body(4 * LIMIT))
    assert status == 413 and problem["errors"][0]["field"] == "body"
    ok = json.dumps({"id": "small", "text": "The port reopened on Tuesday. Ships queued for a week."}).encode()
    status, res = send_chunked(ok)
    assert status == 200 and res["created"] == 1, res


# -- rate limits -------------------------------------------------------------------------------
def test_gcra_allows_the_burst_then_one_per_interval(tmp_path: Path) -> None:
    lim = RateLimiter(tmp_path / "limits.sqlite3")
    other = RateLimiter(tmp_path / "limits.sqlite3")  # a second worker on the same file
    rate = (3, 60.0)
    t = 1000.0
    assert [lim.hit("b", "k", rate, now=t) for _ in range(2)] == [None, None]
    assert other.hit("b", "k", rate, now=t) is None  # the third of three, counted by "another worker"
    wait = lim.hit("b", "k", rate, now=t)
    assert wait == pytest.approx(20.0)
    assert other.hit("b", "k", rate, now=t + 10) == pytest.approx(10.0)  # refusals do not consume
    assert lim.hit("b", "k", rate, now=t + 20.01) is None
    assert lim.hit("b", "other-key", rate, now=t) is None  # keys are separate
    assert lim.hit("model", "k", rate, now=t) is None  # buckets are separate
    assert parse_rate("5/second") == (5, 1.0) and parse_rate("off") is None and parse_rate("0/minute") is None
    with pytest.raises(ValueError):
        parse_rate("5 per minute")


def test_429_with_retry_after_per_bucket(tmp_path: Path, embedder) -> None:
    with make_client(tmp_path, embedder, rate_limit_default="3/minute", rate_limit_model="1/minute") as c:
        assert [c.get("/v1/articles").status_code for _ in range(3)] == [200, 200, 200]
        r = c.get("/v1/articles")
        assert r.status_code == 429 and r.headers["content-type"].startswith(PROBLEM)
        assert 1 <= int(r.headers["retry-after"]) <= 20
        assert r.json()["type"].endswith("/rate-limited")
        # the model bucket is separate from the default one
        ask = {"question": "What happened?"}
        assert c.post("/v1/ask", json=ask).status_code == 200
        r = c.post("/v1/ask", json=ask)
        assert r.status_code == 429 and 30 <= int(r.headers["retry-after"]) <= 60
        # the chat endpoint spends the same model bucket, and says so in OpenAI's shape
        chat = {"model": "newsdesk", "messages": [{"role": "user", "content": "What happened?"}]}
        r = c.post("/v1/chat/completions", json=chat)
        assert r.status_code == 429 and 30 <= int(r.headers["retry-after"]) <= 60
        assert r.json()["error"]["type"] == "rate_limit_error"
        assert c.get("/healthz").status_code == 200  # probes are never limited


def test_model_gate_bounds_the_queue_and_the_wait() -> None:
    async def scenario() -> None:
        gate = ModelGate(slots=1, queue_size=1, timeout_s=0.3)
        release = asyncio.Event()

        async def holder() -> None:
            async with gate.hold():
                await release.wait()

        first = asyncio.create_task(holder())
        await asyncio.sleep(0.01)
        waiter = asyncio.create_task(holder())  # queues (1 of 1)
        await asyncio.sleep(0.01)
        assert gate.waiting == 1
        with pytest.raises(Overloaded) as full:  # the queue is full: refused at once
            async with gate.hold():
                pass
        assert full.value.retry_after >= 1
        with pytest.raises(Overloaded, match="waited"):  # the queued one times out
            await waiter
        release.set()
        await first
        async with gate.hold():  # the slot is free again
            assert gate.waiting == 0

    asyncio.run(scenario())


# -- request ids and metrics ---------------------------------------------------------------------
def test_request_id_is_returned_and_kept(tmp_path: Path, embedder) -> None:
    with make_client(tmp_path, embedder) as c:
        a, b = c.get("/healthz"), c.get("/healthz")
        assert len(a.headers["x-request-id"]) >= 16 and a.headers["x-request-id"] != b.headers["x-request-id"]
        kept = c.get("/healthz", headers={"X-Request-ID": "edge-proxy-1234"})
        assert kept.headers["x-request-id"] == "edge-proxy-1234"
        assert c.get("/healthz", headers={"X-Request-ID": "bad id\x7f"}).headers["x-request-id"] != "bad id\x7f"
        assert c.get("/v1/articles/nope").headers["x-request-id"]  # problem responses carry it too


def _metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            if all(f'{k}="{v}"' in line for k, v in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
    return total


def test_metrics_count_requests_model_calls_tokens_and_ingest(tmp_path: Path, embedder) -> None:
    with make_client(tmp_path, embedder) as c:
        before = c.get("/metrics").text
        article = {"id": "m1", "text": "The bridge closed on Friday. Engineers found cracks in two pillars."}
        assert c.post("/v1/articles", json=article).status_code == 200
        assert c.post("/v1/ask", json={"question": "Why did the bridge close?", "model": "fake"}).status_code == 200
        c.get("/v1/search", params={"q": "bridge"})
        r = c.get("/metrics")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
        after = r.text

    def delta(name: str, **labels: str) -> float:
        return _metric(after, name, **labels) - _metric(before, name, **labels)

    assert delta("newsdesk_http_requests_total", route="/v1/search", status="200") == 1
    assert delta("newsdesk_http_request_duration_seconds_count", route="/v1/ask") == 1
    assert delta("newsdesk_ingest_articles_total", status="created") == 1
    assert delta("newsdesk_model_calls_total", backend="fake", outcome="ok") >= 1
    assert delta("newsdesk_model_tokens_total", backend="fake", kind="prompt") > 0
    assert "newsdesk_model_queue_depth" in after


# -- the model queue over real HTTP, with a slow backend from the real registry ------------------
@pytest.fixture
def slow_backend() -> Iterator[str]:
    from service.llm.base import StreamGen
    from service.llm.fake import FakeBackend
    from service.llm.registry import register, unregister

    class SlowFake(FakeBackend):
        name = "slowfake"

        def complete(self, messages, **kw):  # type: ignore[no-untyped-def]
            time.sleep(1.5)
            return super().complete(messages, **kw)

        def _stream(self, messages, **kw) -> StreamGen:  # type: ignore[no-untyped-def]
            for delta in super()._stream(messages, **kw):
                time.sleep(0.3)
                yield delta
            return self._completion(messages, "", "stop")

    register("slowfake")(lambda settings, model: SlowFake(model=model))
    yield "slowfake"
    unregister("slowfake")


def test_model_slots_are_held_for_the_whole_answer_and_the_queue_sheds_with_503(tmp_path: Path, embedder,
                                                                                 slow_backend: str) -> None:
    settings = Settings(data_dir=tmp_path / "data", llm_backend=slow_backend, model_concurrency=1,
                        model_queue_size=0, rate_limit_model=None)
    app = create_app(settings, services_factory=lambda s: build_services(s, embedder=embedder))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    import httpx

    url = f"http://127.0.0.1:{port}"
    article = {"id": "q1", "text": "The harbour reopened on Tuesday after the storm. Ferries resumed at noon."}
    question = {"question": "When did the harbour reopen after the storm?"}
    try:
        assert httpx.post(url + "/v1/articles", json=article, timeout=60).status_code == 200
        shed_before = _metric(httpx.get(url + "/metrics").text, "newsdesk_shed_total", reason="model_queue_full")
        for stream in (False, True):
            results: dict[str, Any] = {}

            def first(stream: bool = stream, results: dict[str, Any] = results) -> None:
                r = httpx.post(url + "/v1/ask", json={**question, "stream": stream}, timeout=60)
                results["status"], results["text"] = r.status_code, r.text

            t = threading.Thread(target=first)
            t.start()
            time.sleep(0.6)  # the first request holds the only slot (for a stream: while it streams)
            busy = httpx.post(url + "/v1/ask", json=question, timeout=60)
            assert busy.status_code == 503, busy.text
            assert busy.headers["content-type"].startswith(PROBLEM) and int(busy.headers["retry-after"]) >= 1
            assert busy.json()["type"].endswith("/overloaded")
            t.join(60)
            assert results["status"] == 200, results
            if stream:
                assert "event: final" in results["text"]
        metrics = httpx.get(url + "/metrics").text
        assert _metric(metrics, "newsdesk_shed_total", reason="model_queue_full") - shed_before == 2
    finally:
        server.should_exit = True
        thread.join(10)


def test_a_worker_at_its_inflight_limit_sheds_with_a_cheap_503_problem(tmp_path: Path, embedder,
                                                                       slow_backend: str) -> None:
    import httpx

    settings = Settings(data_dir=tmp_path / "data", llm_backend=slow_backend, max_inflight_requests=1,
                        rate_limit_model=None, rate_limit_default=None)
    app = create_app(settings, services_factory=lambda s: build_services(s, embedder=embedder))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}"
    try:
        article = {"id": "s1", "text": "The harbour reopened on Tuesday after the storm. Ferries resumed at noon."}
        assert httpx.post(url + "/v1/articles", json=article, timeout=60).status_code == 200
        slow = threading.Thread(target=lambda: httpx.post(
            url + "/v1/ask", json={"question": "When did the harbour reopen after the storm?"}, timeout=60))
        slow.start()
        time.sleep(0.6)  # one request in flight: the limit
        r = httpx.get(url + "/v1/articles", timeout=10)
        assert r.status_code == 503 and r.headers["retry-after"] == "1" and r.headers["x-request-id"]
        assert r.headers["content-type"] == PROBLEM and r.json()["type"].endswith("/overloaded")
        up = httpx.post(url + "/v1/articles", content=b"x" * 300_000, timeout=10)  # an upload is drained, not reset
        assert up.status_code == 503
        assert httpx.get(url + "/healthz", timeout=10).status_code == 200  # probes are never shed
        slow.join(60)
        assert httpx.get(url + "/v1/articles", timeout=10).status_code == 200
    finally:
        server.should_exit = True
        thread.join(10)
