"""/v1/summaries over real HTTP semantics (TestClient), fake backend through the real registry."""

from __future__ import annotations

from fastapi.testclient import TestClient

ASK_CITATION_FIELDS = {"marker", "sentence_id", "article_id", "title", "url", "source", "published_at", "quote",
                       "start", "end", "support"}


def seed(client: TestClient, text: str) -> None:
    r = client.post("/v1/articles", json={"id": "seed", "title": "NK troops", "text": text, "source": "Fox News",
                                          "published_at": "2025-04-28"})
    assert r.status_code == 200, r.text


def test_summary_has_the_documented_shape_and_exact_quotes(client: TestClient, seed_text: str) -> None:
    seed(client, seed_text)
    r = client.post("/v1/summaries", json={"article_ids": ["seed"], "length": "short", "model": "fake"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) >= {"summary", "sentences", "citations", "neutrality", "model", "prompt", "usage", "timings"}
    assert body["prompt"] == "summary@v3" and body["articles"] == ["seed"]
    assert body["neutrality"]["contested"][0]["claim_id"] == "seed:2"
    article = client.get("/v1/articles/seed").json()
    for c in body["citations"]:
        assert set(c) == ASK_CITATION_FIELDS and article["text"][c["start"]:c["end"]] == c["quote"]
    for s in body["sentences"]:
        assert s["citations"] and s["markers"] and all(f"[{m}]" in body["summary"] for m in s["markers"])


def test_summary_by_date_range_and_errors(client: TestClient, seed_text: str) -> None:
    seed(client, seed_text)
    ok = client.post("/v1/summaries", json={"since": "2025-04-28", "until": "2025-04-28", "model": "fake",
                                            "style": "bullets"})
    assert ok.status_code == 200 and ok.json()["summary"].startswith("- ")
    missing = client.post("/v1/summaries", json={"article_ids": ["nope"], "model": "fake"})
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("application/problem+json")
    assert client.post("/v1/summaries", json={"model": "fake"}).status_code == 422
    assert client.post("/v1/summaries", json={"article_ids": ["seed"], "length": "huge"}).status_code == 422
    assert client.post("/v1/summaries", json={"since": "2025-02-30", "model": "fake"}).status_code == 422
