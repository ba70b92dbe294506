"""Two workers never poll the same feed at once: threads running the real poll pipeline, and
processes racing on the real claim in SQLite, both watched by the feed server's in-flight count."""

from __future__ import annotations

import multiprocessing
import threading

from fastapi.testclient import TestClient

from service.config import Settings
from service.feeds.manage import add_feed
from service.feeds.scheduler import FeedPoller
from service.main import create_app
from service.runtime import Services, build_services
from service.store.feeds import feed_store
from tests.feeds.claim_worker import race
from tests.feeds.conftest import STORIES
from tests.feeds.feed_server import FeedServer, page, rss, wait_for
from tests.feeds.pollers import poll_side_by_side

ROUNDS = 3


def test_two_pollers_racing_poll_each_due_feed_once(feed_services: Services, feed_server: FeedServer) -> None:
    paths = ["/a.xml", "/b.xml", "/c.xml"]
    for i, path in enumerate(paths):
        # slow feeds, so that the two workers' polls overlap in time
        feed_server.set(path, rss(feed_server, STORIES[i : i + 1], title=f"Outlet {i}"),
                        content_type="application/rss+xml", delay_s=0.25)
    for it in STORIES:
        feed_server.set(f"/news/{it.slug}", page(it))
    ids = [add_feed(feed_services.settings, feed_server.url(p))["id"] for p in paths]
    store = feed_store(feed_services.settings)
    workers = [FeedPoller(feed_services, worker=f"w{i}") for i in range(2)]
    polled, by_worker = poll_side_by_side(workers, ids, lambda fid: store.set_next_poll(fid, 0.0), ROUNDS)
    assert all(polled[(rnd, fid)] == 1 for rnd in range(ROUNDS) for fid in ids), polled
    assert set(by_worker) == {"w0", "w1"}  # both really polled, side by side
    for path in paths:
        assert feed_server.max_in_flight[path] == 1
        assert feed_server.hits(path) == ROUNDS
    assert feed_services.store.stats()["articles"] == 3


def test_processes_racing_on_the_claim_never_overlap(feed_settings: Settings, feed_server: FeedServer) -> None:
    feed_server.set("/feed.xml", "<rss/>", content_type="application/rss+xml", delay_s=0.1)
    url = feed_server.url("/feed.xml")
    feed = add_feed(feed_settings, url)
    path = str(feed_settings.data_dir / "feeds.sqlite3")
    ctx = multiprocessing.get_context("spawn")
    start, out = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=race, args=(path, feed["id"], url, f"p{i}", 10, start, out)) for i in range(4)]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(30)
    polls = sum(p for p, _ in results)
    refused = sum(r for _, r in results)
    assert feed_server.max_in_flight["/feed.xml"] == 1
    assert feed_server.hits("/feed.xml") == polls and polls >= 1 and refused >= 1, results
    assert feed_store(feed_settings).get(feed["id"])["polling_by"] is None  # every claim released


def test_serve_polls_due_feeds_in_the_background(feed_settings: Settings, feed_server: FeedServer,
                                                embedder: object) -> None:
    feed_server.set("/rss.xml", rss(feed_server, STORIES), content_type="application/rss+xml")
    for it in STORIES:
        feed_server.set(f"/news/{it.slug}", page(it))
    cfg = feed_settings.model_copy(update={"feed_poll": True, "feed_poll_tick_s": 0.5})
    add_feed(cfg, feed_server.url("/rss.xml"))
    apps = [create_app(cfg, services_factory=lambda s: build_services(s, embedder=embedder)) for _ in range(2)]
    with TestClient(apps[0]) as one, TestClient(apps[1]) as two:  # two workers on one data dir
        assert wait_for(lambda: two.get("/v1/feeds").json()["items"][0]["last_success_at"] is not None, timeout=60)
        assert one.get("/v1/articles").json()["total"] == 3
    assert feed_server.hits("/rss.xml") == 1
    assert not any(t.name == "feed-poller" and t.is_alive() for t in threading.enumerate())
