"""Several real worker processes on one real Chroma server: concurrent ingest through both,
whole articles only (for readers during the writes, and in Chroma and the catalogue after),
a rate limit shared across workers, `serve --workers 2` owning its Chroma server, and a
graceful shutdown that finishes the in-flight ingest batch."""

from __future__ import annotations

import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import chromadb
import httpx
import pytest

from benchmarks.harness import Service, make_key, start_service, synthetic_articles
from vectorstore.server import ChromaServer, announced

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Two single-process workers sharing one data dir and one `chroma run`."""
    root = tmp_path_factory.mktemp("pair")
    data = root / "data"
    with ChromaServer(data / "chroma", log_file=root / "chroma.log", nice=19) as chroma:
        common = {"auth": "required", "rate_limit_default": "off", "rate_limit_model": "6/minute",
                  "chroma_host": chroma.host, "chroma_port": chroma.port}
        workers = [start_service(data, log_name=f"worker{i}.log", **common) for i in range(2)]
        try:
            yield {"data": data, "chroma": chroma, "workers": workers}
        finally:
            for w in workers:
                w.terminate()


def whole(article: dict[str, Any], expected: dict[str, Any]) -> None:
    """An article as served: its own text, every sentence slicing it, counts that agree."""
    assert article["text"] == expected["text"]
    assert article["sentence_count"] == len(article["sentences"])
    for s in article["sentences"] + article["boilerplate"]:
        assert article["text"][s["start"] : s["end"]] == s["text"]
    assert sorted(s["index"] for s in article["sentences"] + article["boilerplate"]) == list(
        range(len(article["sentences"]) + len(article["boilerplate"])))


def test_two_workers_ingest_at_once_and_every_article_is_whole(pair: dict[str, Any]) -> None:
    data: Path = pair["data"]
    w0, w1 = pair["workers"]
    key = make_key(data, "write", "ingest-test")
    own = [synthetic_articles(24, prefix=f"w{i}-", seed=i) for i in range(2)]
    shared = synthetic_articles(8, prefix="both-", seed=7)  # sent by both workers at once
    expected = {a["id"]: a for a in [*own[0], *own[1], *shared]}
    errors: list[str] = []
    done = threading.Event()

    def writer(svc: Service, articles: list[dict[str, Any]]) -> None:
        with svc.client(key, timeout=300) as c:
            for i in range(0, len(articles), 4):
                r = c.post("/v1/articles", json=articles[i : i + 4])
                if r.status_code != 200:
                    errors.append(f"{svc.port}: {r.status_code} {r.text[:300]}")

    reads = {"articles": 0, "hits": 0}

    def reader() -> None:  # while the writers run: anything visible must be whole
        ids = list(expected)
        n = 0
        with w0.client(key) as c0, w1.client(key) as c1:
            while not done.is_set():
                c = (c0, c1)[n % 2]
                aid = ids[n % len(ids)]
                n += 1
                r = c.get(f"/v1/articles/{aid}")
                if r.status_code == 200:
                    try:
                        whole(r.json(), expected[aid])
                    except AssertionError as exc:
                        errors.append(f"half article {aid}: {exc}")
                    reads["articles"] += 1
                elif r.status_code != 404:
                    errors.append(f"read {aid}: {r.status_code} {r.text[:200]}")
                s = c.get("/v1/search", params={"q": "petition signed after officials announced", "k": 5})
                if s.status_code != 200:
                    errors.append(f"search: {s.status_code} {s.text[:200]}")
                    continue
                for h in s.json()["sentences"]:
                    src = expected.get(h["article_id"])
                    if src is None or src["text"][h["start"] : h["end"]] != h["text"]:
                        errors.append(f"hit {h['id']} does not slice its article")
                    reads["hits"] += 1

    threads = [threading.Thread(target=writer, args=(w0, [*own[0], *shared])),
               threading.Thread(target=writer, args=(w1, [*shared, *own[1]])),
               threading.Thread(target=reader)]
    for t in threads:
        t.start()
    for t in threads[:2]:
        t.join(500)
    done.set()
    threads[2].join(60)
    assert not errors, errors[:10]
    assert reads["articles"] > 0 and reads["hits"] > 0, reads

    # both workers served writes
    for w in (w0, w1):
        assert re.search(r'"POST /v1/articles 200"', w.log_text()), w.log_path

    # every article, read through either worker, is whole
    with w0.client(key) as c0, w1.client(key) as c1:
        for i, (aid, art) in enumerate(expected.items()):
            r = (c0, c1)[i % 2].get(f"/v1/articles/{aid}")
            assert r.status_code == 200, (aid, r.text)
            whole(r.json(), art)
        ready = c0.get("/readyz").json()
        assert ready["checks"]["store"]["pending"] == 0

    # and in the stores themselves: exactly the published version's vectors, nothing else
    db = sqlite3.connect(data / "catalog.sqlite3")
    rows = db.execute("SELECT id, version, sentence_count, chunk_count FROM articles").fetchall()
    assert db.execute("SELECT COUNT(*) FROM journal").fetchone()[0] == 0
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    assert {r[0] for r in rows} >= set(expected)
    chroma = pair["chroma"]
    client = chromadb.HttpClient(host=chroma.host, port=chroma.port)
    sentences = client.get_collection("newsdesk_sentences", embedding_function=None)
    chunks = client.get_collection("newsdesk_chunks", embedding_function=None)
    for aid, version, n_sent, n_chunk in rows:
        where = {"$and": [{"article_id": aid}, {"version": version}]}
        assert len(sentences.get(where=where, include=[])["ids"]) == n_sent, aid
        assert len(chunks.get(where=where, include=[])["ids"]) == n_chunk, aid
    assert sentences.count() == sum(r[2] for r in rows)  # no vectors of half-written or old versions
    assert chunks.count() == sum(r[3] for r in rows)


def test_rate_limit_is_shared_across_workers(pair: dict[str, Any]) -> None:
    w0, w1 = pair["workers"]
    key = make_key(pair["data"], "read", "limited")
    other = make_key(pair["data"], "read", "other")
    statuses: list[tuple[int, int]] = []
    with w0.client(key) as c0, w1.client(key) as c1:
        for i in range(10):  # alternate workers: each would allow 6 alone
            r = (c0, c1)[i % 2].post("/v1/ask", json={"question": f"What did officials announce? {i}"})
            statuses.append((i % 2, r.status_code))
            if r.status_code == 429:
                assert r.headers["content-type"].startswith("application/problem+json")
                assert int(r.headers["retry-after"]) >= 1
    assert [s for _, s in statuses] == [200] * 6 + [429] * 4, statuses
    assert {w for w, s in statuses if s == 429} == {0, 1}  # both workers refuse once the shared count is spent
    with w1.client(other) as c:  # another key has its own allowance
        assert c.post("/v1/ask", json={"question": "What did officials announce?"}).status_code == 200


def test_serve_workers_2_runs_its_own_chroma_and_stops_it(tmp_path: Path) -> None:
    svc = start_service(tmp_path / "data", workers=2, seed=True)
    try:
        log = svc.log_text()
        m = re.search(r"started chroma run on http://127\.0\.0\.1:(\d+) for 2 workers \(pid (\d+)\)", log)
        assert m, log[-2000:]
        chroma_port, chroma_pid = int(m.group(1)), int(m.group(2))
        assert httpx.get(f"http://127.0.0.1:{chroma_port}/api/v2/heartbeat", timeout=5).status_code == 200
        deadline = time.monotonic() + 60
        while len(set(re.findall(r"Started server process \[(\d+)\]", svc.log_text()))) < 2:
            assert time.monotonic() < deadline, svc.log_text()[-2000:]
            time.sleep(0.2)
        with svc.client() as c:
            for _ in range(6):
                r = c.get("/v1/search", params={"q": "North Korea troops"})
                assert r.status_code == 200 and r.json()["sentences"], (r.status_code, r.text[:500])
            metrics = c.get("/metrics").text
        served = sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                     if line.startswith('newsdesk_http_requests_total{method="GET",route="/v1/search"'))
        assert served == 6  # summed over both workers, whichever one answered the scrape
        # the CLI on the same data dir uses the running server, never the directory embedded
        cli = subprocess.run([sys.executable, "-m", "service.cli", "search", "North Korea troops", "--json"],
                             env=svc.env, capture_output=True, text=True, timeout=120)
        assert cli.returncode == 0 and "north-korea-troops-kursk" in cli.stdout, cli.stderr[-2000:]
        assert announced(tmp_path / "data") == ("127.0.0.1", chroma_port)
    finally:
        code = svc.terminate()
    assert code == 0, svc.log_text()[-2000:]
    with pytest.raises(ProcessLookupError):
        import os

        os.kill(chroma_pid, 0)
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{chroma_port}/api/v2/heartbeat", timeout=2)
    assert announced(tmp_path / "data") is None


def test_sigterm_finishes_the_in_flight_ingest_batch(tmp_path: Path) -> None:
    data = tmp_path / "data"
    svc = start_service(data)
    batch = synthetic_articles(80, prefix="g-", seed=3)
    result: dict[str, Any] = {}

    def post() -> None:
        with svc.client(timeout=300) as c:
            r = c.post("/v1/articles", json=batch)
            result.update(status=r.status_code, body=r.json(), at=time.monotonic())

    t = threading.Thread(target=post)
    t.start()
    time.sleep(1.0)  # the batch is being embedded and written
    signalled_at = time.monotonic()
    svc.proc.send_signal(signal.SIGTERM)
    t.join(300)
    code = svc.proc.wait(120)
    assert result["status"] == 200 and result["body"]["created"] == 80, result
    assert result["at"] > signalled_at  # it was in flight when the signal came
    assert code in (0, -signal.SIGTERM)  # uvicorn re-raises the signal after its graceful shutdown
    assert "Application shutdown complete" in svc.log_text()
    db = sqlite3.connect(data / "catalog.sqlite3")
    assert db.execute("SELECT COUNT(*) FROM articles WHERE id LIKE 'g-%'").fetchone()[0] == 80
    assert db.execute("SELECT COUNT(*) FROM journal").fetchone()[0] == 0
    db.close()


def test_every_chroma_request_is_bounded_by_a_timeout(pair: dict[str, Any]) -> None:
    from vectorstore.client import make_client

    chroma = pair["chroma"]
    client = make_client(host=chroma.host, port=chroma.port, timeout_s=7.5)
    timeout = client._server._session.timeout  # type: ignore[attr-defined]
    assert (timeout.read, timeout.connect) == (7.5, 5.0)
    assert client.heartbeat() > 0


def test_reads_retry_chromas_transient_first_write_error_and_nothing_else() -> None:
    from chromadb.errors import InternalError

    from vectorstore.client import ReadRetryingCollection

    class Flaky:  # a fake collection: fails `fails` times, then answers
        def __init__(self, fails: int, message: str) -> None:
            self.fails, self.message, self.calls = fails, message, 0
            self.name = "flaky"

        def query(self, **kw: Any) -> dict[str, Any]:
            self.calls += 1
            if self.calls <= self.fails:
                raise InternalError(self.message)
            return {"ids": [["x"]]}

    transient = "Error executing plan: Internal error: Error creating hnsw segment reader: Nothing found on disk"
    flaky = Flaky(2, transient)
    assert ReadRetryingCollection(flaky).query(n_results=1) == {"ids": [["x"]]}  # type: ignore[arg-type]
    assert flaky.calls == 3 and ReadRetryingCollection(flaky).name == "flaky"  # type: ignore[arg-type]
    with pytest.raises(InternalError):  # gives up after its retries
        ReadRetryingCollection(Flaky(9, transient)).query()  # type: ignore[arg-type]
    other = Flaky(1, "something else broke")
    with pytest.raises(InternalError):  # other errors are not retried
        ReadRetryingCollection(other).query()  # type: ignore[arg-type]
    assert other.calls == 1
