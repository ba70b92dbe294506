"""Two nodes with separate data dirs on one PostgreSQL: a followed feed is polled once across both
pollers, a scheduled briefing day is built once across both schedulers, and the model calls
logged on one are listed on the other (``newsdesk logs``)."""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from service.cli import app as cli_app
from service.config import Settings, get_settings
from service.feeds.manage import add_feed
from service.feeds.scheduler import FeedPoller
from service.generation.briefing import BriefingParams
from service.generation.schedule import BriefingScheduler
from service.llm.base import ChatMessage
from service.llm.fake import FakeBackend
from service.logs.calls import call_model
from service.runtime import Services, build_services
from service.store.engine import open_briefings, open_feeds
from tests.feeds.conftest import STORIES
from tests.feeds.feed_server import FeedServer, page, rss, serve
from tests.feeds.pollers import poll_side_by_side
from vectorstore.server import ChromaServer

ROUNDS = 3


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    yield from serve()


@pytest.fixture
def two_nodes(tmp_path: Path, pg_url: str, embedder: Any, chroma_server: ChromaServer,
              monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Services, Services]]:
    monkeypatch.setenv("NEWSDESK_FETCH_ALLOW_LOOPBACK", "true")  # the feed server is on loopback
    prefix = f"t{secrets.token_hex(4)}"  # the session's Chroma server is shared by the tests
    with ExitStack() as stack:
        nodes = []
        for name in ("a", "b"):
            settings = Settings(data_dir=tmp_path / name, llm_backend="fake", feed_poll=False, fetch_timeout_s=3.0,
                                database_url=pg_url, chroma_host=chroma_server.host, chroma_port=chroma_server.port,
                                collection_prefix=prefix)
            svc = build_services(settings, embedder=embedder)
            stack.callback(svc.close)
            nodes.append(svc)
        yield nodes[0], nodes[1]


def test_a_followed_feed_is_polled_once_across_two_nodes(two_nodes: tuple[Services, Services],
                                                         feed_server: FeedServer) -> None:
    a, b = two_nodes
    paths = ["/a.xml", "/b.xml", "/c.xml"]
    for i, path in enumerate(paths):  # slow feeds, so that the two nodes' polls overlap in time
        feed_server.set(path, rss(feed_server, STORIES[i : i + 1], title=f"Outlet {i}"),
                        content_type="application/rss+xml", delay_s=0.25)
    for it in STORIES:
        feed_server.set(f"/news/{it.slug}", page(it))
    ids = [add_feed(a.settings, feed_server.url(p))["id"] for p in paths]  # followed through node A
    pollers = [FeedPoller(a, worker="node-a"), FeedPoller(b, worker="node-b")]
    # all due again each round, from node B
    polled, by_node = poll_side_by_side(pollers, ids, lambda fid: open_feeds(b.settings).set_next_poll(fid, 0.0),
                                        ROUNDS)
    assert all(polled[(rnd, fid)] == 1 for rnd in range(ROUNDS) for fid in ids), polled
    assert set(by_node) == {"node-a", "node-b"}, by_node  # both nodes really polled, side by side
    for path in paths:
        assert feed_server.max_in_flight[path] == 1 and feed_server.hits(path) == ROUNDS
    # what one node polled, the other sees: the polls, and the entries it need not ingest again
    feeds = {f["id"]: f for f in open_feeds(b.settings).list_feeds()}
    assert [feeds[fid]["polls"] for fid in ids] == [ROUNDS] * 3 and all(feeds[f]["entries_seen"] == 1 for f in ids)
    # each story ingested once, by one node, into the one catalogue and the one Chroma both read
    assert a.store.stats()["articles"] == 3 and a.store.stats() == b.store.stats()


def test_a_scheduled_briefing_day_is_built_once_across_two_nodes(two_nodes: tuple[Services, Services]) -> None:
    builds: list[str] = []
    lock = threading.Lock()

    def slow_build(svc: Services, params: BriefingParams) -> None:
        time.sleep(0.3)  # long enough for the loser to try while the winner is building
        with lock:
            builds.append(f"{params.day.isoformat()} on {svc.settings.data_dir.name}")

    nodes = [BriefingScheduler(svc, at="06:00", timezone="UTC", build=slow_build,
                               worker=f"node-{svc.settings.data_dir.name}") for svc in two_nodes]
    start = threading.Barrier(2)
    won: list[bool] = []

    def race(s: BriefingScheduler) -> None:
        start.wait()
        won.append(s.run_for(date(2024, 3, 5)))

    threads = [threading.Thread(target=race, args=(n,)) for n in nodes]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(won) == [False, True] and len(builds) == 1, builds
    runs = open_briefings(two_nodes[1].settings).runs()  # the day's run, as either node sees it
    assert [(r["date"], r["state"]) for r in runs] == [("2024-03-05", "done")]
    assert not any(n.run_for(date(2024, 3, 5)) for n in nodes) and len(builds) == 1  # never again


def test_calls_logged_on_one_node_are_listed_on_the_other(two_nodes: tuple[Services, Services],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = two_nodes
    msgs = [ChatMessage("user", "Who approved the sea wall?")]
    call_model(FakeBackend(["The council did."]), msgs, log=a.call_log, prompt_name="answer",
               prompt_version="7", retrieved_ids=["s1", "s2"])
    row = b.call_log.list()[0]
    assert (row["response"], row["prompt_version"], row["retrieved_ids"]) == ("The council did.", "7", ["s1", "s2"])
    assert b.call_log.count() == 1 and b.call_log.get(row["id"]) == row
    # `newsdesk logs` on a third machine, which has only the URL
    monkeypatch.setenv("NEWSDESK_DATA_DIR", str(a.settings.data_dir.parent / "cli"))
    monkeypatch.setenv("NEWSDESK_DATABASE_URL", str(a.settings.database_url))
    get_settings.cache_clear()
    try:
        r = CliRunner().invoke(cli_app, ["logs", "--json"])
        one = CliRunner().invoke(cli_app, ["logs", str(row["id"])])
    finally:
        get_settings.cache_clear()
    assert r.exit_code == 0, r.output
    assert [(c["id"], c["response"]) for c in json.loads(r.stdout)] == [(row["id"], "The council did.")]
    assert one.exit_code == 0 and json.loads(one.stdout)["request"] == [{"role": "user", "content": msgs[0].content}]
    assert not a.settings.logs_path.exists() and not b.settings.logs_path.exists()  # nothing went to SQLite
