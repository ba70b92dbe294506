"""kill -9 on PostgreSQL: of the API node in the middle of an ingest, and of PostgreSQL itself.

A real ``newsdesk serve`` (NEWSDESK_DATABASE_URL on the session's throwaway cluster, vectors on
the session's ``chroma run``) ingests short real articles (tests/pg/ingest_crash.py) posted in
batches of 20 by two clients, which record the ids each 2xx answer acknowledged.

* Node: SIGKILL its process group at two points of the ingest; right after each kill (before any
  restart) no article is half visible, and every acknowledged one is there; after the restart
  (which repairs) the journal is empty and no vector of an unpublished version is left.
* PostgreSQL: SIGKILL the postmaster and all its backends (no shutdown checkpoint).  While it is
  down the node answers every request with 503 problem+json and a Retry-After, quickly (no hang,
  no 500); after PostgreSQL restarts (crash recovery) the node serves again without a restart of
  its own, and the same invariants hold.

Both then let the clients retry what was not acknowledged, and check the end state: every
article whole (sentences' offsets slice the text, lexemes and postings complete, the published
version's vectors in Chroma, nothing else in Chroma), the lexical statistics equal to the rows,
and every article found by BM25 through ``GET /v1/articles?q=``.

The default run posts 200 articles; the 1,000-article runs are marked ``slow`` (``make test``
runs them, ``make test-fast`` does not).
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from benchmarks.harness import Service, start_service
from tests.pg.cluster import PgCluster
from tests.pg.ingest_crash import Clients, assert_whole, check_stores, not_found_lexically, short_articles
from vectorstore.server import ChromaServer

pytestmark = pytest.mark.timeout(1800)
SIZES = [200, pytest.param(1000, marks=pytest.mark.slow)]
BATCH = 20


class Desk:
    """One node's settings and its current ``newsdesk serve``."""

    def __init__(self, root: Path, pg_url: str, chroma: ChromaServer) -> None:
        self.root, self.url, self.chroma = root, pg_url, chroma
        self.prefix = f"t{secrets.token_hex(4)}"
        self.settings: dict[str, Any] = {
            "database_url": pg_url, "chroma_host": chroma.host, "chroma_port": chroma.port,
            "collection_prefix": self.prefix, "rate_limit_default": "off", "rate_limit_model": "off",
            "feed_poll": "false", "max_inflight_requests": 1000}
        self.node: Service | None = None

    def start(self) -> Service:
        self.node = start_service(self.root / "a", nice=5, **self.settings)
        return self.node

    def base(self) -> str:
        assert self.node is not None
        return self.node.url

    def check(self, expected: dict[str, dict[str, Any]], **kw: Any) -> dict[str, Any]:
        return check_stores(self.url, self.chroma, self.prefix, expected, **kw)


@pytest.fixture
def desk(tmp_path: Path, pg_url: str, chroma_server: ChromaServer) -> Iterator[Desk]:
    d = Desk(tmp_path, pg_url, chroma_server)
    try:
        yield d
    finally:
        if d.node is not None:
            d.node.terminate()


def _batches(docs: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    return [docs[i : i + BATCH] for i in range(0, len(docs), BATCH)]


def _finish(desk: Desk, clients: Clients, expected: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Let the clients retry until everything is in; then everything is whole and found."""
    clients.join()
    assert clients.acked == set(expected)
    final = desk.check(expected)
    assert final["visible"] == set(expected)
    assert_whole(final)
    assert not_found_lexically(desk.base(), final, set(expected)) == []
    with httpx.Client(base_url=desk.base(), timeout=60) as c:  # whole through the API as well
        for aid in sorted(expected)[:: max(1, len(expected) // 20)]:
            art = c.get(f"/v1/articles/{aid}").json()
            assert art["text"] == expected[aid]["text"]
            assert all(art["text"][s["start"] : s["end"]] == s["text"] for s in art["sentences"])
    return final


@pytest.mark.parametrize("n", SIZES)
def test_kill_9_of_the_node_mid_ingest_loses_nothing_acknowledged_and_shows_no_half_article(
        desk: Desk, n: int) -> None:
    docs = short_articles(n)
    expected = {d["id"]: d for d in docs}
    desk.start()
    clients = Clients(desk.base, _batches(docs)).start()
    rnd = random.Random(n)
    cut_off = 0
    for point in (0.3, 0.65):
        clients.wait_acked(int(n * point))
        time.sleep(rnd.uniform(0.0, 0.8))  # land the kill in different phases of a write
        clients.pause()
        acked, flying = clients.snapshot()
        assert desk.node is not None
        desk.node.kill9()
        cut_off += len(flying)

        after_kill = desk.check(expected)  # nothing has repaired anything yet
        assert_whole(after_kill, journal_empty=False)
        assert acked <= after_kill["visible"], sorted(acked - after_kill["visible"])[:10]

        desk.start()  # repairs at start
        after_restart = desk.check(expected)
        assert_whole(after_restart)
        assert acked <= after_restart["visible"]
        clients.resume()
    _finish(desk, clients, expected)
    print(f"node kill x2, {n} articles: cut off in flight {cut_off}, statuses {dict(clients.statuses)}, "
          f"transport {dict(clients.transport)}")
    assert cut_off > 0  # a kill really cut an ingest off
    assert clients.transport  # and the clients saw it
    assert set(clients.statuses) == {200}, clients.statuses  # never a 5xx
    assert clients.not_problem == []


PROBES: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/v1/articles", {"json": {"id": "probe-1", "title": "Probe", "source": "AP",
                                       "text": "A probe arrived while the database was down. It must not be lost."}}),
    ("GET", "/v1/articles", {}),
    ("GET", "/v1/articles", {"params": {"q": "government"}}),
    ("GET", "/v1/search", {"params": {"q": "What did the government announce?"}}),
    ("DELETE", "/v1/articles/rt-00000", {}),
]


@pytest.mark.parametrize("n", SIZES)
def test_kill_9_of_postgresql_mid_ingest_gives_503s_then_recovers_whole(
        desk: Desk, pg_cluster: PgCluster, n: int) -> None:
    docs = short_articles(n)
    expected = {d["id"]: d for d in docs}
    desk.start()
    clients = Clients(desk.base, _batches(docs)).start()
    clients.wait_acked(int(n * 0.4))
    time.sleep(random.Random(n).uniform(0.0, 0.8))
    acked, flying = clients.snapshot()
    killed = pg_cluster.kill9()
    assert killed > 1 and flying
    try:
        time.sleep(1.0)  # the clients' batches in flight meet a dead database
        with httpx.Client(base_url=desk.base(), timeout=60) as c:
            for method, path, kw in PROBES:
                started = time.monotonic()
                r = c.request(method, path, **kw)
                took = time.monotonic() - started
                assert r.status_code == 503, (method, path, r.status_code, r.text[:500])
                assert r.headers["content-type"].startswith("application/problem+json"), (path, r.headers)
                assert r.json()["type"].endswith("/database-unavailable") and "retry-after" in r.headers, r.text
                assert took < 15, f"{method} {path} took {took:.1f} s with the database down"
            ready = c.get("/readyz")
            assert ready.status_code == 503 and ready.json()["status"] == "not-ready"
        time.sleep(2.0)  # the clients keep retrying against the dead database meanwhile
    finally:
        pg_cluster.start_again()  # crash recovery from the WAL
    recovered = _wait_serving(desk.base(), 30.0)

    clients.pause()
    clients.idle()
    after = desk.check(expected)  # the node has not repaired yet: the journal may hold entries
    assert_whole(after, journal_empty=False)
    assert acked <= after["visible"], sorted(acked - after["visible"])[:10]
    assert "probe-1" not in after["visible"]  # its 503 wrote nothing
    assert desk.node is not None and desk.node.alive()  # it rode the outage out without a restart
    _finish(desk, clients, expected)
    print(f"postgres kill, {n} articles: {killed} processes killed, in flight {len(flying)}, statuses "
          f"{dict(clients.statuses)}, slowest error {clients.slowest_error_s:.1f} s, serving again {recovered:.1f} s")
    assert 503 in clients.statuses and set(clients.statuses) <= {200, 503}, clients.statuses
    assert not clients.transport, clients.transport  # no hang, no dropped connection
    assert clients.not_problem == [], clients.not_problem[:3]
    assert clients.slowest_error_s < 30, clients.slowest_error_s
    assert recovered < 10  # the pools reconnect promptly (service/store/pg.py RECONNECT_GIVE_UP_S)


def _wait_serving(base: str, timeout_s: float) -> float:
    """Seconds until the node lists articles again after the database came back."""
    started = time.monotonic()
    while True:
        try:
            if httpx.get(base + "/v1/articles", params={"limit": 1}, timeout=30).status_code == 200:
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"the node did not serve again within {timeout_s:g} s of the database restart")
        time.sleep(0.2)
