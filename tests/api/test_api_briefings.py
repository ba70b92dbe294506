"""/v1/briefings: build with POST, read back as JSON, Markdown and HTML."""

from __future__ import annotations

from html.parser import HTMLParser

from fastapi.testclient import TestClient

DAY = "2024-03-04"
ARTICLES = [
    ("a1", "Outlet A", "Officials said the Lake Verde dam would open on Monday. It will supply water to 20,000 homes."),
    ("a2", "Outlet B", "The Lake Verde dam opened on Monday, officials said. Critics said it cost too much."),
    ("b1", "Outlet C", "The county fair opened with a record crowd."),
]


def ingest(client: TestClient) -> None:
    for aid, source, text in ARTICLES:
        r = client.post("/v1/articles", json={"id": aid, "title": f"{source} story", "text": text,
                                              "source": source, "published_at": DAY})
        assert r.status_code == 200, r.text


def test_build_then_read_in_every_format(client: TestClient) -> None:
    ingest(client)
    assert client.get(f"/v1/briefings/{DAY}").status_code == 404
    r = client.post("/v1/briefings", json={"date": DAY, "model": "fake"})
    assert r.status_code == 201, r.text
    built = r.json()
    assert [s["article_ids"] for s in built["stories"]] == [["a1", "a2"]]
    assert [x["article_id"] for x in built["single_reports"]] == ["b1"]
    assert "centroid" not in built["stories"][0]
    got = client.get(f"/v1/briefings/{DAY}")
    assert got.status_code == 200 and got.json() == built
    md = client.get(f"/v1/briefings/{DAY}", params={"format": "md"})
    assert md.headers["content-type"].startswith("text/markdown") and md.text.startswith("# Daily briefing")
    page = client.get(f"/v1/briefings/{DAY}", params={"format": "html"})
    assert page.headers["content-type"].startswith("text/html")
    parser = HTMLParser()
    parser.feed(page.text)  # well-formed enough for the stdlib parser
    assert "<h2>1. " in page.text and 'id="changes"' in page.text


def test_bad_requests(client: TestClient) -> None:
    assert client.post("/v1/briefings", json={"date": "2024-13-01", "model": "fake"}).status_code == 422
    assert client.post("/v1/briefings", json={"date": DAY, "model": "fake"}).status_code == 404
    assert client.post("/v1/briefings", json={"date": DAY, "timezone": "Nowhere/City"}).status_code == 422
    assert client.get(f"/v1/briefings/{DAY}", params={"format": "pdf"}).status_code == 422
