"""API keys: CLI and /v1/keys, hashing, scopes, 401/403 problem+json, revocation, OpenAPI
scheme, keys kept out of logs, and serve's refusal to bind a public address without auth."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from service.cli import app as cli_app
from service.config import Settings, get_settings
from service.errors import ConfigError
from service.main import create_app
from service.runtime import build_services
from service.serve import check_bind, is_loopback
from service.store.keys import KeyStore, covers

PROBLEM = "application/problem+json"
ARTICLE = {"id": "auth-1", "title": "T", "source": "AP", "published_at": "2026-11-01",
           "text": "The council approved the budget on Monday. The mayor said taxes will not rise."}


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def cli(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("NEWSDESK_DATA_DIR", str(data_dir))
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def create_key(cli: CliRunner, name: str, scope: str) -> dict[str, str]:
    r = cli.invoke(cli_app, ["keys", "create", "--name", name, "--scope", scope, "--json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


@pytest.fixture
def secured(data_dir: Path, embedder) -> Iterator[TestClient]:
    settings = Settings(data_dir=data_dir, llm_backend="fake", auth="required",
                        rate_limit_default=None, rate_limit_model=None)
    application = create_app(settings, services_factory=lambda s: build_services(s, embedder=embedder))
    with TestClient(application) as c:
        yield c


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def assert_problem(r, status: int, slug: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body = r.json()
    assert body["status"] == status and body["type"].endswith("/" + slug), body
    return body


def test_cli_creates_lists_and_revokes_keys_stored_hashed(cli: CliRunner, data_dir: Path) -> None:
    made = create_key(cli, "desk-bot", "write")
    assert set(made) == {"id", "name", "scope", "key"}
    assert (made["name"], made["scope"]) == ("desk-bot", "write")
    assert made["key"].startswith(f"ndk_{made['id']}_")

    listed = json.loads(cli.invoke(cli_app, ["keys", "list", "--json"]).stdout)
    assert [(k["id"], k["scope"], k["revoked_at"]) for k in listed] == [(made["id"], "write", None)]
    assert "key" not in listed[0] and made["key"] not in json.dumps(listed)

    # only a hash is stored: the secret appears in no byte of the catalogue
    secret = made["key"].removeprefix(f"ndk_{made['id']}_").encode()  # token_urlsafe may hold "_" itself
    assert len(secret) >= 20
    raw = b"".join(p.read_bytes() for p in data_dir.glob("catalog.sqlite3*"))
    assert raw and secret not in raw

    r = cli.invoke(cli_app, ["keys", "revoke", made["id"]])
    assert r.exit_code == 0 and made["id"] in r.output
    assert json.loads(cli.invoke(cli_app, ["keys", "list", "--json"]).stdout)[0]["revoked_at"]
    again = cli.invoke(cli_app, ["keys", "revoke", made["id"]])
    assert again.exit_code == 2 and "already revoked" in again.output
    assert cli.invoke(cli_app, ["keys", "revoke", "00000000"]).exit_code == 3  # not found
    bad = cli.invoke(cli_app, ["keys", "create", "--name", "x", "--scope", "root"])
    assert bad.exit_code == 2 and "scope" in bad.output


def test_scope_rank() -> None:
    assert covers("admin", "write") and covers("write", "read") and covers("read", "read")
    assert not covers("read", "write") and not covers("write", "admin") and not covers("bogus", "read")


def test_scopes_on_every_kind_of_route(secured: TestClient, cli: CliRunner) -> None:
    keys = {s: create_key(cli, f"k-{s}", s)["key"] for s in ("read", "write", "admin")}
    # what each scope may do: (method, path, body) -> lowest scope that works
    ingest = ("POST", "/v1/articles", ARTICLE)
    assert secured.request("POST", "/v1/articles", json=ARTICLE, headers=bearer(keys["write"])).status_code == 200
    cases = [
        (("GET", "/v1/articles", None), "read"),
        (("GET", "/v1/articles/auth-1", None), "read"),
        (("GET", "/v1/search?q=budget", None), "read"),
        (("POST", "/v1/ask", {"question": "Did the council approve the budget?"}), "read"),
        (("POST", "/v1/summaries", {"article_ids": ["auth-1"]}), "read"),
        (ingest, "write"),
        (("POST", "/v1/briefings", {"date": "2026-11-01"}), "write"),
        (("GET", "/v1/keys", None), "admin"),
        (("GET", "/metrics", None), "admin"),
    ]
    rank = ["read", "write", "admin"]
    for (method, path, body), need in cases:
        for scope, key in keys.items():
            r = secured.request(method, path, json=body, headers=bearer(key))
            if rank.index(scope) >= rank.index(need):
                assert r.status_code < 400, (method, path, scope, r.text)
            else:
                detail = assert_problem(r, 403, "forbidden")["detail"]
                assert need in detail and key not in detail
    # delete needs write
    assert_problem(secured.delete("/v1/articles/auth-1", headers=bearer(keys["read"])), 403, "forbidden")
    assert secured.delete("/v1/articles/auth-1", headers=bearer(keys["write"])).status_code == 204
    # probes stay open
    assert secured.get("/healthz").status_code == 200


def test_missing_bad_and_revoked_keys_get_401(secured: TestClient, cli: CliRunner) -> None:
    r = secured.get("/v1/articles")
    assert_problem(r, 401, "unauthorized")
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert_problem(secured.get("/v1/articles", headers={"Authorization": "Basic dXNlcjpwYXNz"}), 401, "unauthorized")
    assert_problem(secured.get("/v1/articles", headers=bearer("not-a-key")), 401, "unauthorized")
    made = create_key(cli, "soon-gone", "admin")
    forged = made["key"][:-4] + ("AAAA" if not made["key"].endswith("AAAA") else "BBBB")
    assert_problem(secured.get("/v1/articles", headers=bearer(forged)), 401, "unauthorized")
    assert secured.get("/v1/articles", headers=bearer(made["key"])).status_code == 200
    # a key cannot revoke itself over HTTP; the CLI revokes it, and the next request is refused
    assert_problem(secured.delete(f"/v1/keys/{made['id']}", headers=bearer(made["key"])), 409, "conflict")
    assert cli.invoke(cli_app, ["keys", "revoke", made["id"]]).exit_code == 0
    body = assert_problem(secured.get("/v1/articles", headers=bearer(made["key"])), 401, "unauthorized")
    assert "revoked" in body["detail"]


def test_keys_over_http_are_the_same_keys(secured: TestClient, cli: CliRunner, data_dir: Path) -> None:
    admin = create_key(cli, "root", "admin")["key"]
    r = secured.post("/v1/keys", json={"name": "reporter", "scope": "read"}, headers=bearer(admin))
    assert r.status_code == 201, r.text
    new = r.json()
    assert secured.get("/v1/search?q=x", headers=bearer(new["key"])).status_code == 200
    ids = [k.id for k in KeyStore(data_dir / "catalog.sqlite3").list()]
    assert new["id"] in ids
    assert secured.delete(f"/v1/keys/{new['id']}", headers=bearer(admin)).status_code == 204
    assert_problem(secured.get("/v1/search?q=x", headers=bearer(new["key"])), 401, "unauthorized")
    bad = secured.post("/v1/keys", json={"name": "x", "scope": "owner"}, headers=bearer(admin))
    assert any(e["field"] == "body.scope" for e in assert_problem(bad, 422, "invalid-input")["errors"])


def test_keys_never_reach_the_logs(secured: TestClient, cli: CliRunner, caplog: pytest.LogCaptureFixture) -> None:
    key = create_key(cli, "quiet", "write")["key"]
    caplog.set_level(logging.DEBUG)
    secured.post("/v1/articles", json=ARTICLE, headers=bearer(key))
    secured.get("/v1/keys", headers=bearer(key))  # 403
    secured.get("/v1/articles", headers=bearer(key + "x"))  # 401, malformed
    secured.get("/v1/articles", headers=bearer(key[:-2] + "zz"))  # 401, unknown
    text = caplog.text + "".join(json.dumps(r.__dict__, default=str) for r in caplog.records)
    access = [r for r in caplog.records if r.name == "newsdesk.access"]
    assert len(access) == 4 and all(getattr(r, "request_id", None) for r in access)
    assert {getattr(r, "key_id", None) for r in access} >= {key.split("_")[1]}
    assert key.split("_", 2)[2][:12] not in text


def test_openapi_shows_the_bearer_scheme(secured: TestClient) -> None:
    spec = secured.get("/openapi.json").json()
    schemes = spec["components"]["securitySchemes"]
    assert any(s == {"type": "http", "scheme": "bearer"} | {k: s[k] for k in s if k not in ("type", "scheme")}
               for s in schemes.values())
    name = next(iter(schemes))
    assert spec["paths"]["/v1/ask"]["post"]["security"] == [{name: []}]
    assert "security" not in spec["paths"]["/healthz"]["get"]
    assert "401" in spec["paths"]["/v1/search"]["get"]["responses"]


def test_serve_refuses_a_public_bind_without_auth(cli: CliRunner, monkeypatch: pytest.MonkeyPatch,
                                                  data_dir: Path) -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3") and not is_loopback("example.org")
    open_settings = Settings(data_dir=data_dir)
    with pytest.raises(ConfigError, match="NEWSDESK_AUTH=required"):
        check_bind("0.0.0.0", open_settings, insecure=False)
    check_bind("0.0.0.0", open_settings, insecure=True)
    check_bind("0.0.0.0", Settings(data_dir=data_dir, auth="required"), insecure=False)
    check_bind("127.0.0.1", open_settings, insecure=False)
    r = cli.invoke(cli_app, ["serve", "--host", "0.0.0.0", "--port", "9"])  # refused before any bind
    assert r.exit_code == ConfigError.exit_code and "--insecure" in r.output


def test_serve_says_at_once_when_its_port_is_taken(cli: CliRunner) -> None:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        r = cli.invoke(cli_app, ["serve", "--host", "127.0.0.1", "--port", str(port), "--no-seed"])
    assert r.exit_code == ConfigError.exit_code
    assert f"cannot listen on 127.0.0.1:{port}" in r.output and "--port" in r.output


def test_the_openai_routes_take_the_same_keys_and_answer_in_openais_shape(secured: TestClient,
                                                                          cli: CliRunner) -> None:
    chat = {"model": "newsdesk", "messages": [{"role": "user", "content": "Who approved the budget?"}]}
    r = secured.post("/v1/chat/completions", json=chat)
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    assert r.json()["error"]["type"] == "authentication_error"
    assert secured.get("/v1/models", headers=bearer("not-a-key")).json()["error"]["code"] == "unauthorized"
    key = create_key(cli, "chat-client", "read")["key"]
    assert secured.get("/v1/models", headers=bearer(key)).status_code == 200
    assert secured.post("/v1/chat/completions", json=chat, headers=bearer(key)).status_code == 200
