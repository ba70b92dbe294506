"""/v1/feeds over HTTP, and `newsdesk feeds` on the command line: the same functions behind both."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from service.cli import app as cli_app
from service.config import Settings, get_settings
from service.main import create_app
from service.runtime import build_services
from tests.feeds.conftest import STORIES
from tests.feeds.feed_server import FeedServer, page, rss


@pytest.fixture
def api(feed_settings: Settings, embedder: object) -> Iterator[TestClient]:
    app = create_app(feed_settings, services_factory=lambda s: build_services(s, embedder=embedder))
    with TestClient(app) as c:
        yield c


def serve(server: FeedServer) -> str:
    server.set("/rss.xml", rss(server, STORIES), content_type="application/rss+xml", etag='"e1"')
    for it in STORIES:
        server.set(f"/news/{it.slug}", page(it))
    return server.url("/rss.xml")


def test_follow_poll_list_and_remove(api: TestClient, feed_server: FeedServer) -> None:
    url = serve(feed_server)
    r = api.post("/v1/feeds", json={"url": url, "source": "Gazette", "every": "15m"})
    assert r.status_code == 201, r.text
    feed = r.json()
    assert feed["id"].startswith("f") and feed["url"] == url and feed["source"] == "Gazette"
    assert (feed["every"], feed["every_seconds"], feed["entries_seen"]) == ("15m", 900, 0)
    assert feed["last_success_at"] is None

    polled = api.post(f"/v1/feeds/{feed['id']}/poll")
    assert polled.status_code == 200, polled.text
    body = polled.json()
    assert (body["status"], body["created"], body["failed"], body["entries"]) == ("ok", 3, 0, 3)
    assert [i["status"] for i in body["items"]] == ["created"] * 3
    assert body["items"][0]["text_from"] == "page" and body["items"][0]["published_at"].startswith("2024-03-05")
    assert set(body["timings"]) >= {"fetch_ms", "parse_ms", "pages_ms", "ingest_ms", "total_ms"}
    arts = api.get("/v1/articles", params={"source": "Gazette"}).json()
    assert arts["total"] == 3

    again = api.post(f"/v1/feeds/{feed['id']}/poll").json()
    assert again["status"] == "not-modified" and again["http_status"] == 304 and again["items"] == []

    listed = api.get("/v1/feeds").json()["items"]
    assert [f["id"] for f in listed] == [feed["id"]]
    one = api.get(f"/v1/feeds/{feed['id']}").json()
    assert one["entries_seen"] == 3 and one["articles"] == 3 and one["etag"] == '"e1"' and one["polls"] == 2
    assert one["last_success_at"] and one["consecutive_failures"] == 0 and one["polling_by"] is None

    assert api.delete(f"/v1/feeds/{feed['id']}").status_code == 204
    assert api.get(f"/v1/feeds/{feed['id']}").status_code == 404
    assert api.get("/v1/articles").json()["total"] == 3  # its articles stay


def test_feed_errors_are_problems(api: TestClient, feed_server: FeedServer) -> None:
    url = serve(feed_server)
    assert api.post("/v1/feeds", json={"url": url}).status_code == 201
    dup = api.post("/v1/feeds", json={"url": url})
    assert dup.status_code == 409 and dup.headers["content-type"] == "application/problem+json"
    assert "already followed" in dup.json()["detail"]
    for body, field in (({"url": "file:///etc/passwd"}, "url"), ({"url": "ftp://x.test/f"}, "url"),
                        ({"url": "https://x.test/f", "every": "5s"}, "every"),
                        ({"url": "https://x.test/f", "every": "often"}, "every"),
                        ({"url": "https://x.test/f", "colour": "red"}, "body.colour")):
        r = api.post("/v1/feeds", json=body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["errors"][0]["field"] == field
    assert api.post("/v1/feeds/nope/poll").status_code == 404
    assert api.delete("/v1/feeds/nope").status_code == 404


def test_a_failing_feed_reports_its_error_and_backoff(api: TestClient, feed_server: FeedServer) -> None:
    feed_server.set("/gone.xml", "gone", status=410, content_type="text/plain")
    feed = api.post("/v1/feeds", json={"url": feed_server.url("/gone.xml"), "every": "1h"}).json()
    body = api.post(f"/v1/feeds/{feed['id']}/poll").json()
    assert body["status"] == "error" and body["error_kind"] == "http-status" and body["http_status"] == 410
    status = api.get(f"/v1/feeds/{feed['id']}").json()
    assert status["consecutive_failures"] == 1 and "HTTP 410" in status["last_error"]
    assert status["last_error_kind"] == "http-status" and status["last_success_at"] is None


@pytest.fixture
def cli_env(feed_settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[CliRunner]:
    monkeypatch.setenv("NEWSDESK_DATA_DIR", str(feed_settings.data_dir))
    monkeypatch.setenv("NEWSDESK_LLM_BACKEND", "fake")
    monkeypatch.setenv("NEWSDESK_CACHE_DIR", str(tmp_path / "cache"))
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_cli_add_list_poll_remove(cli_env: CliRunner, feed_server: FeedServer) -> None:
    url = serve(feed_server)
    r = cli_env.invoke(cli_app, ["feeds", "add", url, "--source", "Gazette", "--every", "15m"])
    assert r.exit_code == 0, r.output
    assert "following" in r.output and "every 15m" in r.output
    feed_id = r.output.split(" as ")[1].split(",")[0].strip()
    r = cli_env.invoke(cli_app, ["feeds", "poll", "--json"])
    assert r.exit_code == 0, r.output
    result = json.loads(r.output)["results"][0]
    assert result["feed_id"] == feed_id and result["created"] == 3
    r = cli_env.invoke(cli_app, ["feeds", "poll", url])
    assert r.exit_code == 0 and "not modified" in r.output
    r = cli_env.invoke(cli_app, ["feeds", "list", "--json"])
    listed = json.loads(r.output)["items"]
    assert [(f["id"], f["articles"]) for f in listed] == [(feed_id, 3)]
    r = cli_env.invoke(cli_app, ["feeds", "list"])
    assert feed_id in r.output and "3 articles" in r.output
    r = cli_env.invoke(cli_app, ["feeds", "add", url])
    assert r.exit_code == 7 and "already followed" in r.output
    r = cli_env.invoke(cli_app, ["feeds", "remove", feed_id])
    assert r.exit_code == 0 and "removed" in r.output
    r = cli_env.invoke(cli_app, ["feeds", "remove", feed_id])
    assert r.exit_code == 3


def test_cli_poll_of_a_failing_feed_exits_nonzero(cli_env: CliRunner, feed_server: FeedServer) -> None:
    feed_server.set("/down.xml", "no", status=500, content_type="text/plain")
    assert cli_env.invoke(cli_app, ["feeds", "add", feed_server.url("/down.xml")]).exit_code == 0
    r = cli_env.invoke(cli_app, ["feeds", "poll"])
    assert r.exit_code == 1 and "HTTP 500" in r.output and "next try" in r.output
