"""GET /v1/articles?q= (article search) and GET /v1/briefings/{day}/status."""

from __future__ import annotations

from fastapi.testclient import TestClient

ARTICLES = [
    {"id": "dam", "title": "Lake Verde dam opens", "source": "Outlet A", "published_at": "2024-03-04",
     "text": "The Lake Verde dam opened on Monday. It will supply water to 20,000 homes."},
    {"id": "fair", "title": "County fair", "source": "Outlet B", "published_at": "2024-03-05",
     "text": "The county fair opened with a record crowd. Farmers showed prize pumpkins."},
    {"id": "pumpkins", "title": "Harvest notes", "source": "Outlet A", "published_at": "2024-03-05",
     "text": "A pumpkin weighing 900 kilograms won the prize. The dam was not mentioned."},
]


def ingest(client: TestClient) -> None:
    r = client.post("/v1/articles", json=ARTICLES)
    assert r.status_code == 200, r.text


def test_q_finds_articles_best_first_with_the_matching_sentence(client: TestClient) -> None:
    ingest(client)
    body = client.get("/v1/articles", params={"q": "pumpkins prize"}).json()
    assert [a["id"] for a in body["items"]][:2] in (["fair", "pumpkins"], ["pumpkins", "fair"])
    assert body["total"] == 2
    for a in body["items"]:
        m = a["match"]
        text = client.get(f"/v1/articles/{a['id']}").json()["text"]
        assert text[m["start"]:m["end"]] == m["text"] and m["id"] == f"{a['id']}:{m['index']}"
    # filters narrow a search; without q the list is newest first and has no match
    only_a = client.get("/v1/articles", params={"q": "pumpkins prize", "source": "Outlet A"}).json()
    assert [a["id"] for a in only_a["items"]] == ["pumpkins"]
    plain = client.get("/v1/articles").json()
    assert plain["total"] == 3 and all(a["match"] is None for a in plain["items"])
    assert client.get("/v1/articles", params={"q": "zeppelin"}).json() == {
        "items": [], "total": 0, "limit": 50, "offset": 0}


def test_q_is_words_not_fts_syntax(client: TestClient) -> None:
    ingest(client)
    for q in ['"unbalanced', "dam OR", "NEAR(dam", "*", "dam:opened"]:
        r = client.get("/v1/articles", params={"q": q})
        assert r.status_code == 200, (q, r.text)


def test_briefing_status(client: TestClient) -> None:
    ingest(client)
    r = client.get("/v1/briefings/2024-03-05/status")
    assert r.status_code == 200 and r.json()["state"] == "missing" and r.json()["articles"] == 2
    assert client.post("/v1/briefings", json={"date": "2024-03-05", "model": "fake"}).status_code == 201
    assert client.get("/v1/briefings/2024-03-05/status").json()["state"] == "ready"
    assert client.get("/v1/briefings/2024-03-05/status", params={"sources": "Outlet A"}).json()["state"] == "missing"
    assert client.get("/v1/briefings/2024-02-30/status").status_code == 422
    assert client.get("/v1/briefings/2024-03-05/status", params={"timezone": "Nowhere/City"}).status_code == 422
