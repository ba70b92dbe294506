"""Near-duplicates: wire copy reprinted by several outlets is linked at ingest, and a briefing
counts outlets, not copies."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient

from service.config import Settings
from service.feeds.manage import add_feed
from service.feeds.poll import poll_feed
from service.ingest.duplicates import COPY_AT, bands, containment, shingles
from service.main import create_app
from service.runtime import Services, build_services
from tests.feeds.feed_server import FeedServer, Item, page, rss

DAY = "2024-03-04"
WIRE = [
    "Officials said the Lake Verde dam would open on Monday after ten years of construction and a long "
    "legal fight over the flooding of two villages upstream.",
    "The dam will supply drinking water to about 20,000 homes in the valley and irrigate farmland that has "
    "suffered three years of drought, the regional water authority said in a statement.",
    "Engineers will fill the reservoir slowly over the summer, and the authority expects to reach full "
    "capacity by the end of the year if the spring rains are normal.",
]
# Paper B trims the last paragraph and adds a local line: still the agency's copy.
PAPER_B = [WIRE[0], WIRE[1], "The county's own pipeline to the dam is due to be finished in June."]
# Outlet C reports the same event in its own words: a separate outlet on the story.
OWN = [
    "The long-delayed Lake Verde dam opened on Monday, and critics said it had cost far more than planned.",
    "Farmers downstream welcomed the reservoir, while former residents of the flooded villages protested "
    "at the gates during the opening ceremony, according to witnesses.",
]
OTHER = ["The county fair opened with a record crowd on Monday, and the organisers said more than 30,000 "
         "tickets had been sold by the afternoon, twice as many as last year, despite the rain."]


def test_shingle_containment_tells_copies_from_coverage() -> None:
    wire, b, own = (shingles(" ".join(p)) for p in (WIRE, PAPER_B, OWN))
    assert containment(wire, b) >= COPY_AT > containment(wire, own)
    assert len(bands(wire)) == 32 and bands(shingles("Too short to judge.")) == []
    assert bands(wire) == bands(shingles(" ".join(WIRE)))  # deterministic across runs


def ingest(client: TestClient, aid: str, source: str, paragraphs: list[str], hour: int) -> dict[str, object]:
    r = client.post("/v1/articles", json={"id": aid, "title": f"{source}: Lake Verde dam", "source": source,
                                          "text": "\n".join(paragraphs), "published_at": f"{DAY}T{hour:02d}:00:00Z"})
    assert r.status_code == 200, r.text
    result: dict[str, object] = r.json()["results"][0]
    return result


def test_wire_copies_are_linked_and_briefings_count_outlets(client: TestClient) -> None:
    assert ingest(client, "a-wire", "Paper A", WIRE, 8)["copies"] == []
    assert ingest(client, "b-wire", "Paper B", PAPER_B, 9)["copies"] == ["a-wire"]
    assert ingest(client, "fair", "Paper B", OTHER, 10)["copies"] == []
    art = client.get("/v1/articles/b-wire").json()
    assert [(c["id"], c["source"]) for c in art["copies"]] == [("a-wire", "Paper A")]
    assert art["copies"][0]["containment"] >= COPY_AT
    assert [c["id"] for c in client.get("/v1/articles/a-wire").json()["copies"]] == ["b-wire"]

    # Two papers printing one agency story are one outlet: no multi-outlet story yet.
    built = client.post("/v1/briefings", json={"date": DAY, "model": "fake"}).json()
    assert built["stories"] == [], built["stories"]
    assert {s["article_id"] for s in built["single_reports"]} == {"a-wire", "b-wire", "fair"}

    # An outlet with its own report makes it a story of two outlets, the copy listed as such.
    ingest(client, "c-own", "Outlet C", OWN, 11)
    rebuilt = client.post("/v1/briefings", json={"date": DAY, "model": "fake"}).json()
    story = next(s for s in rebuilt["stories"] if "c-own" in s["article_ids"])
    assert set(story["article_ids"]) == {"a-wire", "b-wire", "c-own"}
    assert story["copies"] == [{"article_id": "b-wire", "copy_of": "a-wire"}]

    # Deleting the original leaves the copy unlinked (the links go with it).
    assert client.delete("/v1/articles/a-wire").status_code == 204
    assert client.get("/v1/articles/b-wire").json()["copies"] == []


def test_an_edit_that_stops_being_a_copy_is_unlinked(client: TestClient) -> None:
    ingest(client, "a-wire", "Paper A", WIRE, 8)
    assert ingest(client, "b-wire", "Paper B", PAPER_B, 9)["copies"] == ["a-wire"]
    rewritten = ingest(client, "b-wire", "Paper B", OWN, 9)
    assert rewritten["status"] == "updated" and rewritten["copies"] == []
    assert client.get("/v1/articles/a-wire").json()["copies"] == []


def test_feeds_of_two_outlets_carrying_one_wire_story(feed_services: Services, feed_server: FeedServer) -> None:
    when = datetime(2024, 3, 4, 8, tzinfo=UTC)
    a = Item("dam", "Lake Verde dam opens", WIRE, when)
    b = Item("dam-opens", "Dam opens after ten years", PAPER_B, when.replace(hour=9))
    feed_server.set("/a.xml", rss(feed_server, [a], title="Paper A"), content_type="application/rss+xml")
    feed_server.set("/b.xml", rss(feed_server, [b], title="Paper B"), content_type="application/rss+xml")
    feed_server.set("/news/dam", page(a, site="Paper A"))
    feed_server.set("/news/dam-opens", page(b, site="Paper B"))
    fa = add_feed(feed_services.settings, feed_server.url("/a.xml"))
    fb = add_feed(feed_services.settings, feed_server.url("/b.xml"))
    first = poll_feed(feed_services, fa["id"], worker="w")
    second = poll_feed(feed_services, fb["id"], worker="w")
    assert first is not None and second is not None
    assert second.items[0].copies == [first.items[0].article_id] and second.copies == 1
    origins = feed_services.catalog.copy_origins([second.items[0].article_id])
    assert origins[second.items[0].article_id][1] == "Paper A"


def test_links_survive_a_restart(tmp_path: Path, embedder: object) -> None:
    settings = Settings(data_dir=tmp_path / "data", llm_backend="fake", feed_poll=False)
    app = create_app(settings, services_factory=lambda s: build_services(s, embedder=embedder))
    with TestClient(app) as c:
        ingest(c, "a-wire", "Paper A", WIRE, 8)
        ingest(c, "b-wire", "Paper B", PAPER_B, 9)
    with TestClient(create_app(settings, services_factory=lambda s: build_services(s, embedder=embedder))) as c:
        assert [x["id"] for x in c.get("/v1/articles/b-wire").json()["copies"]] == ["a-wire"]
