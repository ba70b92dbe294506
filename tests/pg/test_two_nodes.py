"""Two apps with separate data dirs on one PostgreSQL stand in for two machines: a key made on A works
on B until A revokes it, a burst split across A and B is limited as one, and ingest runs under the
database's writer lock."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from contextlib import ExitStack, closing
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.config import Settings
from service.main import create_app
from service.runtime import build_services
from service.store.engine import open_keys
from service.store.pg_writelock import PgWriterLock
from vectorstore.server import ChromaServer

ARTICLE = {"id": "pg-1", "title": "Budget", "source": "AP", "published_at": "2026-11-01",
           "text": "The council approved the budget on Monday. The mayor said taxes will not rise."}


@pytest.fixture
def nodes(tmp_path: Path, pg_url: str, embedder: Any,
          chroma_server: ChromaServer) -> Iterator[tuple[TestClient, TestClient, str]]:
    common = {"llm_backend": "fake", "auth": "required", "rate_limit_default": "4/minute",
              "rate_limit_model": None, "database_url": pg_url, "chroma_host": chroma_server.host,
              "chroma_port": chroma_server.port, "collection_prefix": f"t{secrets.token_hex(4)}"}
    with ExitStack() as stack:
        apps = []
        for name in ("a", "b"):
            settings = Settings(data_dir=tmp_path / name, **common)
            app = create_app(settings, services_factory=lambda s: build_services(s, embedder=embedder))
            apps.append(stack.enter_context(TestClient(app)))
        with closing(open_keys(Settings(data_dir=tmp_path / "cli", database_url=pg_url))) as keys:
            admin = keys.create("ops", "admin").key  # as `newsdesk keys create` on a third machine
        yield apps[0], apps[1], admin


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_a_key_made_on_a_works_on_b_until_a_revokes_it(nodes: tuple[TestClient, TestClient, str]) -> None:
    a, b, admin = nodes
    r = a.post("/v1/keys", json={"name": "reporter", "scope": "write"}, headers=bearer(admin))
    assert r.status_code == 201, r.text
    new = r.json()
    assert b.get("/v1/articles", headers=bearer(new["key"])).status_code == 200
    assert new["id"] in {k["id"] for k in b.get("/v1/keys", headers=bearer(admin)).json()}
    assert a.delete(f"/v1/keys/{new['id']}", headers=bearer(admin)).status_code == 204
    r = b.get("/v1/articles", headers=bearer(new["key"]))
    assert r.status_code == 401 and "revoked" in r.json()["detail"]


def test_a_burst_split_across_a_and_b_is_limited_as_one(nodes: tuple[TestClient, TestClient, str]) -> None:
    a, b, admin = nodes
    key = a.post("/v1/keys", json={"name": "burst", "scope": "read"}, headers=bearer(admin)).json()["key"]
    codes = [(a if i % 2 else b).get("/v1/articles", headers=bearer(key)).status_code for i in range(6)]
    assert codes == [200, 200, 200, 200, 429, 429]


def test_ingest_waits_for_a_writer_on_another_node(nodes: tuple[TestClient, TestClient, str], pg_url: str) -> None:
    a, _, admin = nodes
    assert isinstance(a.app.state.services.store._write_lock, PgWriterLock)  # type: ignore[attr-defined]
    done = threading.Event()
    results: list[Any] = []

    def ingest() -> None:
        results.append(a.post("/v1/articles", json=ARTICLE, headers=bearer(admin)))
        done.set()

    with PgWriterLock(pg_url):  # another node is writing
        threading.Thread(target=ingest, daemon=True).start()
        assert not done.wait(1.5), "ingest did not wait for the other node's write"
    assert done.wait(60)
    assert results[0].status_code == 200 and results[0].json()["created"] == 1, results[0].text
