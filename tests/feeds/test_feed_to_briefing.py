"""The README's "Follow a feed": add feeds, let `serve` poll them, read the next day's briefing,
with no manual ingest anywhere."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.config import Settings
from service.generation.schedule import BriefingScheduler
from service.main import create_app
from service.runtime import build_services
from tests.feeds.feed_server import FeedServer, Item, page, rss, wait_for

DAY = datetime(2024, 3, 4, 7, tzinfo=UTC)
HARBOUR = [
    Item("dam", "Lake Verde dam opens", [
        "Officials said the Lake Verde dam would open on Monday after ten years of construction.",
        "It will supply water to 20,000 homes in the valley, the regional water authority said.",
        "Engineers will fill the reservoir slowly over the summer months.",
    ], DAY),
    Item("fair", "County fair draws record crowd", [
        "The county fair opened with a record crowd on Monday, its organisers said.",
        "More than 30,000 tickets were sold by the afternoon, twice as many as last year.",
    ], DAY.replace(hour=9)),
]
VALLEY = [
    Item("verde", "Dam opens amid cost criticism", [
        "The Lake Verde dam opened on Monday, officials said, ten years after building began.",
        "Critics said it cost far more than planned, and former residents protested at the gates.",
    ], DAY.replace(hour=8)),
]


def test_follow_two_feeds_then_read_the_next_days_briefing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           feed_server: FeedServer, embedder: object) -> None:
    monkeypatch.setenv("NEWSDESK_FETCH_ALLOW_LOOPBACK", "true")
    feed_server.set("/harbour.xml", rss(feed_server, HARBOUR, title="Harbour Gazette"),
                    content_type="application/rss+xml")
    feed_server.set("/valley.xml", rss(feed_server, VALLEY, title="Valley Times"), content_type="application/rss+xml")
    for it in HARBOUR + VALLEY:
        feed_server.set(f"/news/{it.slug}", page(it))
    settings = Settings(data_dir=tmp_path / "data", llm_backend="fake", feed_poll=True, feed_poll_tick_s=0.5)
    app = create_app(settings, services_factory=lambda s: build_services(s, embedder=embedder))
    with TestClient(app) as client:
        for path, every in (("/harbour.xml", "15m"), ("/valley.xml", "30m")):  # 1. newsdesk feeds add URL
            assert client.post("/v1/feeds", json={"url": feed_server.url(path), "every": every}).status_code == 201
        # 2. `serve` polls them in the background: the articles appear
        assert wait_for(lambda: client.get("/v1/articles").json()["total"] == 3, timeout=30)
        sources = {a["source"] for a in client.get("/v1/articles").json()["items"]}
        assert sources == {"Harbour Gazette", "Valley Times"}
        # 3. the next morning the schedule builds the day's briefing (as NEWSDESK_BRIEFING_SCHEDULE does)
        scheduler = BriefingScheduler(app.state.services, at="06:00", timezone="UTC")
        assert scheduler.run_for(date(2024, 3, 4)) is True
        briefing = client.get("/v1/briefings/2024-03-04").json()
        md = client.get("/v1/briefings/2024-03-04", params={"format": "md"}).text
    assert briefing["articles"] == 3
    [story] = briefing["stories"]
    assert {s["source"] for s in story["sources"]} == {"Harbour Gazette", "Valley Times"}
    assert len(story["article_ids"]) == 2 and story["key_points"]
    assert [r["title"] for r in briefing["single_reports"]] == ["County fair draws record crowd"]
    assert md.startswith("# Daily briefing")
