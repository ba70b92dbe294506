"""Two real ``newsdesk serve`` processes with separate data dirs, one PostgreSQL and one ``chroma
run``, stand in for two machines: an article POSTed through A is listed, fetched, found by lexical
and by hybrid search, and answered from on B; B deletes it and A no longer has it.  Neither node
writes a SQLite catalogue: nothing is shared through files."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from benchmarks.harness import Service, start_service
from service.config import Settings
from service.store.engine import open_keys
from vectorstore.server import ChromaServer

pytestmark = pytest.mark.timeout(600)

ARTICLE = {
    "id": "harbour-1", "title": "Harbour crane collapses", "source": "AP", "published_at": "2026-11-03",
    "text": ("A crane collapsed at the Lindholm harbour on Tuesday, injuring four dock workers. "
             "The port authority closed two berths while inspectors examined the wreckage. "
             "Shipping companies said container traffic would be diverted to Gothenburg for a week."),
}


@pytest.fixture
def two_serves(tmp_path: Path, pg_url: str, chroma_server: ChromaServer) -> Iterator[tuple[Service, Service, str]]:
    with closing(open_keys(Settings(data_dir=tmp_path / "cli", database_url=pg_url))) as keys:
        key = keys.create("desk", "write").key  # as `newsdesk keys create` on a third machine
    common: dict[str, Any] = {
        "database_url": pg_url, "chroma_host": chroma_server.host, "chroma_port": chroma_server.port,
        "collection_prefix": f"t{secrets.token_hex(4)}", "auth": "required", "rate_limit_default": "off",
        "rate_limit_model": "off", "feed_poll": "false"}
    nodes: list[Service] = []
    try:
        for name in ("a", "b"):
            nodes.append(start_service(tmp_path / name, log_name="serve.log", nice=5, **common))
        yield nodes[0], nodes[1], key
    finally:
        for node in nodes:
            node.terminate()


def test_an_article_posted_through_a_is_served_searched_and_answered_by_b(
        two_serves: tuple[Service, Service, str]) -> None:
    a, b, key = two_serves
    aid = ARTICLE["id"]
    with a.client(key, timeout=120) as ca, b.client(key, timeout=120) as cb:
        r = ca.post("/v1/articles", json=ARTICLE)
        assert r.status_code == 200 and r.json()["created"] == 1, r.text

        got = cb.get(f"/v1/articles/{aid}")
        assert got.status_code == 200, got.text
        art = got.json()
        assert art["text"] == ARTICLE["text"] and art["sentence_count"] == 3
        for s in art["sentences"]:
            assert ARTICLE["text"][s["start"] : s["end"]] == s["text"]

        page = cb.get("/v1/articles", params={"q": "crane berths"}).json()
        assert [i["id"] for i in page["items"]] == [aid] and page["total"] == 1

        hits = cb.get("/v1/search", params={"q": "Which berths did the port authority close?", "k": 3}).json()
        top = hits["sentences"][0]
        assert (top["article_id"], top["index"]) == (aid, 1), hits
        assert top["dense"] is not None and top["lexical"] is not None  # Chroma server and PostgreSQL BM25
        assert hits["chunks"] and hits["chunks"][0]["article_id"] == aid

        r = cb.post("/v1/ask", json={"question": "How many dock workers were injured at the Lindholm harbour?"})
        assert r.status_code == 200, r.text
        body = r.json()
        cited = {c["article_id"] for c in body["citations"]} | {e["article_id"] for e in body["evidence"]}
        assert aid in cited, body

        assert cb.delete(f"/v1/articles/{aid}").status_code == 204
        assert ca.get(f"/v1/articles/{aid}").status_code == 404
        assert ca.get("/v1/articles", params={"q": "crane"}).json()["total"] == 0
        left = ca.get("/v1/search", params={"q": "harbour crane"}).json()["sentences"]
        assert all(h["article_id"] != aid for h in left)
    for node in (a, b):
        assert not (node.data_dir / "catalog.sqlite3").exists()
        assert not (node.data_dir / "chroma").exists()
