"""HTTP API: /v1/articles, /v1/search, health, docs; and every bad input as problem+json
that writes nothing."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.config import Settings
from service.main import create_app
from service.runtime import build_services

PROBLEM = "application/problem+json"
SMALL_BODY_LIMIT = 2048
PROMO = {
    "TRUMP BLASTS PUTIN, QUESTIONING IF RUSSIAN LEADER WANTS PEACE OR IS JUST ‘TAPPING ME ALONG’",
    "RUSSIA ‘READY TO MAKE A DEAL’ ON UKRAINE WAR, LAVROV SAYS",
}


def article(id_: str, text: str, **extra: Any) -> dict[str, Any]:
    return {"id": id_, "text": text, **extra}


def post(client: TestClient, body: Any):
    return client.post("/v1/articles", json=body)


def total(client: TestClient) -> int:
    r = client.get("/v1/articles")
    assert r.status_code == 200
    return r.json()["total"]


# -- happy paths ------------------------------------------------------------------------------
def test_ingest_single_get_and_delete_the_seed(client: TestClient, seed_text: str) -> None:
    body = article("nk-troops", seed_text, title="Putin thanks North Korea", source="AP",
                   url="https://apnews.com/article/nk-troops", published_at="2025-04-28")
    r = post(client, body)
    assert r.status_code == 200, r.text
    res = r.json()
    assert (res["created"], res["updated"], res["unchanged"], res["failed"]) == (1, 0, 0, 0)
    item = res["results"][0]
    assert (item["id"], item["status"], item["boilerplate"], item["errors"]) == ("nk-troops", "created", 4, [])
    assert item["sentences"] == 25 and item["chunks"] >= 1

    r = client.get("/v1/articles/nk-troops")
    assert r.status_code == 200
    art = r.json()
    assert art["text"] == seed_text
    assert (art["title"], art["source"], art["url"]) == ("Putin thanks North Korea", "AP", body["url"])
    assert art["published_at"].startswith("2025-04-28")
    assert art["sentence_count"] == len(art["sentences"]) == 25
    for s in art["sentences"] + art["boilerplate"]:
        assert art["text"][s["start"] : s["end"]] == s["text"]
        assert s["id"] == f"nk-troops:{s['index']}"
    sentence_texts = {s["text"] for s in art["sentences"]}
    boiler = {s["text"]: s["reason"] for s in art["boilerplate"]}
    assert boiler == {**dict.fromkeys(PROMO, "promo_headline"),
                      "The Associated Press contributed to this report.": "credit",
                      "Read the full article here": "trailer"}
    assert not sentence_texts & set(boiler)
    indexes = sorted(s["index"] for s in art["sentences"] + art["boilerplate"])
    assert indexes == list(range(len(indexes)))

    r = client.get("/v1/search", params={"q": "how many soldiers did North Korea send", "k": 8})
    assert r.status_code == 200
    hits = r.json()["sentences"]
    assert any("10,000-12,000" in h["text"] for h in hits)
    for h in hits:
        assert art["text"][h["start"] : h["end"]] == h["text"]
        assert h["text"] not in boiler

    # identical again: unchanged
    again = post(client, body).json()
    assert again["results"][0]["status"] == "unchanged" and again["unchanged"] == 1

    r = client.delete("/v1/articles/nk-troops")
    assert r.status_code == 204
    r = client.get("/v1/articles/nk-troops")
    assert r.status_code == 404 and r.headers["content-type"].startswith(PROBLEM)
    assert client.delete("/v1/articles/nk-troops").status_code == 404
    assert total(client) == 0
    assert client.get("/v1/search", params={"q": "North Korea troops"}).json()["sentences"] == []


def test_ingest_list_reports_each_item_status(client: TestClient) -> None:
    first = [article("a1", "The council met on Monday."), article("a2", "The bridge reopened on Tuesday.")]
    r = post(client, first)
    assert r.status_code == 200
    assert [(x["id"], x["status"]) for x in r.json()["results"]] == [("a1", "created"), ("a2", "created")]

    second = [article("a1", "The council met on Monday."),            # unchanged
              article("a2", "The bridge reopened on Wednesday."),      # updated
              article("a3", "A new library opened on Friday.")]        # created
    r = post(client, second)
    assert r.status_code == 200
    res = r.json()
    assert [(x["index"], x["id"], x["status"]) for x in res["results"]] == [
        (0, "a1", "unchanged"), (1, "a2", "updated"), (2, "a3", "created")]
    assert (res["created"], res["updated"], res["unchanged"], res["failed"]) == (1, 1, 1, 0)
    assert client.get("/v1/articles/a2").json()["text"] == "The bridge reopened on Wednesday."


def test_batch_with_one_bad_item_is_207(client: TestClient) -> None:
    r = post(client, [article("good", "The council met on Monday."), article("bad", 5)])
    assert r.status_code == 207, r.text
    res = r.json()
    assert [(x["status"]) for x in res["results"]] == ["created", "failed"]
    assert res["results"][1]["errors"][0]["field"] == "[1].text"
    assert (res["created"], res["failed"]) == (1, 1)
    assert client.get("/v1/articles/good").status_code == 200
    assert client.get("/v1/articles/bad").status_code == 404
    assert total(client) == 1


def test_list_filters_and_paging(client: TestClient) -> None:
    items = [
        article("jan", "The river flooded in January.", source="Coastal Gazette", published_at="2023-01-10"),
        article("feb", "The barrier held in February.", source="River Times", published_at="2023-02-15T08:30:00Z"),
        article("mar", "Insurance rose in March.", source="Coastal Gazette", published_at="2023-03-20"),
        article("undated", "Nobody knows when this happened."),
    ]
    assert post(client, items).status_code == 200

    def ids(**params: Any) -> tuple[list[str], int]:
        r = client.get("/v1/articles", params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        assert (page["limit"], page["offset"]) == (params.get("limit", 50), params.get("offset", 0))
        return [i["id"] for i in page["items"]], page["total"]

    assert ids() == (["mar", "feb", "jan", "undated"], 4)  # newest first, undated last
    assert ids(source="Coastal Gazette") == (["mar", "jan"], 2)
    assert ids(source=["Coastal Gazette", "River Times"]) == (["mar", "feb", "jan"], 3)
    assert ids(since="2023-02-01") == (["mar", "feb"], 2)
    assert ids(until="2023-02-15") == (["feb", "jan"], 2)  # a date covers the whole day
    assert ids(since="2023-02-15T09:00:00Z") == (["mar"], 1)
    assert ids(since="2023-01-01", until="2023-01-31", source="Coastal Gazette") == (["jan"], 1)
    assert ids(limit=2) == (["mar", "feb"], 4)
    assert ids(limit=2, offset=2) == (["jan", "undated"], 4)
    assert ids(limit=2, offset=10) == ([], 4)
    summary = client.get("/v1/articles", params={"source": "River Times"}).json()["items"][0]
    assert summary["sentence_count"] == 1 and summary["published_at"].startswith("2023-02-15")

    for params, field in [({"since": "2023-02-30"}, "since"), ({"until": "yesterday"}, "until"),
                          ({"limit": 0}, "limit"), ({"offset": -1}, "offset")]:
        r = client.get("/v1/articles", params=params)
        assert r.status_code == 422 and r.headers["content-type"].startswith(PROBLEM)
        assert [e["field"] for e in r.json()["errors"]] == [field]


def test_search_filters_and_bad_queries(client: TestClient) -> None:
    post(client, [article("jan", "The river flooded the harbour road.", source="Coastal Gazette",
                          published_at="2023-01-10"),
                  article("feb", "The river flooded the railway line.", source="River Times",
                          published_at="2023-02-15")])
    r = client.get("/v1/search", params={"q": "river flooded", "source": "River Times"})
    assert {h["article_id"] for h in r.json()["sentences"]} == {"feb"}
    r = client.get("/v1/search", params={"q": "river flooded", "article_id": "jan"})
    assert {h["article_id"] for h in r.json()["sentences"]} == {"jan"}
    r = client.get("/v1/search", params={"q": "river flooded", "until": "2023-01-31"})
    assert {h["article_id"] for h in r.json()["sentences"]} == {"jan"}
    for params, field in [({"q": ""}, "q"), ({"q": "   "}, "q"), ({}, "q"), ({"q": "x", "k": 0}, "k"),
                          ({"q": "x", "since": "2023-13-01"}, "since")]:
        r = client.get("/v1/search", params=params)
        assert r.status_code == 422 and r.headers["content-type"].startswith(PROBLEM), params
        assert [e["field"] for e in r.json()["errors"]] == [field]


def test_health_ready_and_docs(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200 and r.json()["status"] == "ready"
    assert r.json()["checks"]["store"]["pending"] == 0
    r = client.get("/docs")
    assert r.status_code == 200 and "swagger" in r.text.lower()
    spec = client.get("/openapi.json").json()
    for path in ("/v1/articles", "/v1/articles/{article_id}", "/v1/search", "/healthz", "/readyz"):
        assert path in spec["paths"]
    body = spec["paths"]["/v1/articles"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert len(body["oneOf"]) == 2
    assert "207" in spec["paths"]["/v1/articles"]["post"]["responses"]


def test_openapi_refs_all_resolve(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(spec)))
    assert refs <= set(spec["components"]["schemas"]), refs - set(spec["components"]["schemas"])


def test_readyz_reports_pending_writes_after_a_crash(client: TestClient) -> None:
    services = client.app.state.services

    def boom(art):
        raise RuntimeError("simulated crash")

    services.store.before_publish = boom
    r = TestClient(client.app, raise_server_exceptions=False).post(
        "/v1/articles", json=article("crash", "The council met on Monday."))
    assert r.status_code == 500 and r.headers["content-type"].startswith(PROBLEM)
    assert "simulated" not in r.text  # no internals leak
    assert client.get("/v1/articles/crash").status_code == 404
    assert client.get("/readyz").json()["checks"]["store"]["pending"] == 1
    services.store.before_publish = None
    assert post(client, article("crash", "The council met on Monday.")).json()["results"][0]["status"] == "created"
    assert client.get("/v1/articles/crash").status_code == 200


# -- bad input: problem+json, the field named, nothing written ---------------------------------
@pytest.fixture(scope="module")
def small_client(tmp_path_factory, embedder) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("api-small") / "data", llm_backend="fake",
                        max_body_bytes=SMALL_BODY_LIMIT, max_article_chars=500)
    app = create_app(settings, services_factory=lambda s: build_services(s, embedder=embedder))
    with TestClient(app) as c:
        assert post(c, article("existing", "An article that is already there.")).status_code == 200
        yield c


def state(client: TestClient) -> tuple[int, dict[str, int]]:
    return total(client), client.app.state.services.store.stats()


JSON = {"content-type": "application/json"}
BAD_INPUTS = {
    "empty text": (dict(json={"text": ""}), 422, "text"),
    "whitespace-only text": (dict(json={"text": " \n\t\u00a0 "}), 422, "text"),
    "text over max_article_chars": (dict(json={"text": "word " * 150}), 422, "text"),
    "not UTF-8": (dict(content=b'{"text": "caf\xe9 au lait"}', headers=JSON), 422, "body"),
    "binary (NUL bytes)": (dict(content=b'{"text": "a\x00\x01\x02b"}', headers=JSON), 422, "body"),
    "NUL escaped in text": (dict(json={"text": "a\u0000b"}), 422, "text"),
    "NUL in title": (dict(json={"text": "Fine.", "title": "a\u0000b"}), 422, "title"),
    "NUL in source": (dict(json={"text": "Fine.", "source": "\u0000"}), 422, "source"),
    "invalid JSON": (dict(content=b'{"text": "unterminated', headers=JSON), 422, "body"),
    "empty body": (dict(content=b"", headers=JSON), 422, "body"),
    "JSON scalar": (dict(json=5), 422, "body"),
    "empty list": (dict(json=[]), 422, "body"),
    "wrong type": (dict(json={"text": 5}), 422, "text"),
    "wrong type title": (dict(json={"text": "Fine.", "title": ["x"]}), 422, "title"),
    "unknown field": (dict(json={"text": "Fine.", "author": "Jane"}), 422, "author"),
    "impossible date": (dict(json={"text": "Fine.", "published_at": "2023-02-30"}), 422, "published_at"),
    "impossible datetime": (dict(json={"text": "Fine.", "published_at": "2023-02-30T10:00:00Z"}), 422,
                            "published_at"),
    "bad id": (dict(json={"id": "has space", "text": "Fine."}), 422, "id"),
    "bad url": (dict(json={"url": "javascript:alert(1)", "text": "Fine."}), 422, "url"),
    "same id twice": (dict(json=[{"id": "twin", "text": "One."}, {"id": "twin", "text": "Two."}]), 422, "[1].id"),
    "same url twice": (dict(json=[{"url": "https://x.org/a", "text": "One."},
                                  {"url": "https://www.x.org/a/", "text": "Two."}]), 422, "[1].id"),
    "same id twice after a good item": (dict(json=[{"id": "solo", "text": "Solo."}, {"id": "twin", "text": "1."},
                                                   {"id": "twin", "text": "2."}]), 422, "[2].id"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_a_problem_naming_the_field_and_writes_nothing(small_client: TestClient, case: str) -> None:
    kwargs, status, field = BAD_INPUTS[case]
    before = state(small_client)
    r = small_client.post("/v1/articles", **kwargs)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    problem = r.json()
    assert problem["status"] == status and problem["type"].startswith("https://") and problem["detail"]
    assert field in [e["field"] for e in problem["errors"]], problem
    assert state(small_client) == before, "a rejected request wrote something"
    for maybe in ("twin", "solo"):
        assert small_client.get(f"/v1/articles/{maybe}").status_code == 404


def test_oversize_body_is_413_and_writes_nothing(small_client: TestClient) -> None:
    before = state(small_client)
    r = small_client.post("/v1/articles", json={"text": "word " * 1000})
    assert r.status_code == 413 and r.headers["content-type"].startswith(PROBLEM)
    assert r.json()["status"] == 413
    # without a Content-Length (chunked upload) the limit holds while streaming
    chunks = (b'{"text": "' + b"x" * 1000, b"y" * 1000, b"z" * 1000 + b'"}')
    r = small_client.post("/v1/articles", content=iter(chunks), headers=JSON)
    assert r.status_code == 413 and r.headers["content-type"].startswith(PROBLEM)
    assert state(small_client) == before


def test_oversize_body_problem_names_the_body_field(small_client: TestClient) -> None:
    r = small_client.post("/v1/articles", json={"text": "word " * 1000})
    assert r.status_code == 413
    assert [e["field"] for e in r.json().get("errors", [])] == ["body"]


def test_batch_where_every_item_fails_is_a_problem(small_client: TestClient) -> None:
    before = state(small_client)
    r = small_client.post("/v1/articles", json=[{"text": ""}, {"text": 5}])
    assert r.status_code == 422
    assert state(small_client) == before
    assert r.headers["content-type"].startswith(PROBLEM)
    assert {e["field"] for e in r.json()["errors"]} == {"[0].text", "[1].text"}
