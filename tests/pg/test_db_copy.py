"""``newsdesk db copy``: a real single-machine desk (SQLite + embedded Chroma, seed articles
embedded by the real model, a key, a feed, a briefing, a logged call) is moved to PostgreSQL and
the session's ``chroma run``; a node opened on the target serves the same articles, offsets,
lexical and vector hits, and the key; a second copy writes nothing; a target that differs, holds
another desk's rows or does not answer is a clear message and a non-zero exit."""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from service.cli import app as cli_app
from service.config import REPO_ROOT, Settings, get_settings
from service.errors import ConfigError, Conflict
from service.ingest.pipeline import ingest_batch
from service.llm.base import ChatMessage
from service.runtime import build_services
from service.store.catalog_base import Filters
from service.store.engine import open_briefings, open_feeds, open_keys
from service.store.feeds import feed_id_for
from vectorstore.server import ChromaServer, free_port

pytestmark = pytest.mark.timeout(600)

SEED = REPO_ROOT / "seeds" / "allsides-2021-07-22.jsonl"
QUERIES = ("How many people filed initial jobless claims?", "Who was named chief of the Capitol Police?",
           "Mississippi abortion law at the Supreme Court")
EXTRA = {  # a second outlet's copy of a seed (a copy link) with boilerplate (a sentence never indexed)
    "source": "Wire Copy", "published_at": "2021-07-23",
    "trailer": "\n\nSign up for our daily newsletter to get the latest updates."}


@dataclass
class Desk:
    settings: Settings
    key: str
    embedder: Any
    articles: list[dict[str, Any]]
    lexical: dict[str, list[tuple[str, int, float]]]
    search: dict[str, list[tuple[str, int]]]
    dense: dict[str, list[str]]


def _seen_by(svc: Any) -> tuple[dict[str, list[tuple[str, int, float]]], dict[str, list[tuple[str, int]]],
                                dict[str, list[str]]]:
    """What each query finds: BM25 hits, the service's search, and the nearest sentence vectors."""
    lexical = {q: svc.catalog.lexical_search(q, Filters(), 5) for q in QUERIES}
    assert all(lexical.values()), lexical
    search = {q: [(h.article_id, h.index) for h in svc.retriever.search(q, k=5).sentences] for q in QUERIES}
    dense = {q: svc.retriever.sentences.query(query_embeddings=[svc.embedder.embed([q])[0].tolist()], n_results=5,
                                              include=[])["ids"][0] for q in QUERIES}
    return lexical, search, dense


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Desk:
    settings = Settings(data_dir=tmp_path_factory.mktemp("desk") / "data", llm_backend="fake",
                        collection_prefix=f"t{secrets.token_hex(4)}")
    rows = [json.loads(line) for line in SEED.read_text().splitlines() if line.strip()]
    first = rows[0]
    rows.append({**first, "id": first["id"] + "-wire", "source": EXTRA["source"], "url": None,
                 "published_at": EXTRA["published_at"], "text": first["text"] + EXTRA["trailer"]})
    svc = build_services(settings)
    try:
        outcomes = ingest_batch(svc.store, [(f"seed:{i}", r) for i, r in enumerate(rows)],
                                max_chars=settings.max_article_chars)
        assert all(o.status == "created" for o in outcomes), [o.errors for o in outcomes]
        assert svc.catalog.copies(first["id"]), "the wire copy should be linked"
        with closing(open_keys(settings)) as keys:
            key = keys.create("desk", "write").key
        feeds = open_feeds(settings)
        url = "https://example.org/feed.xml"
        feeds.add(feed_id_for(url), url, "Example", 1800, now=time.time())
        feeds.record_entries(feed_id_for(url), [("entry-1", first["id"], "fp1", "feed")], now=time.time())
        briefings = open_briefings(settings)
        assert briefings.claim_run("2021-07-22", "tz=UTC;sources=", "w1", now=time.time(), stale_after_s=60)
        briefings.save("2021-07-22", "tz=UTC;sources=", {"date": "2021-07-22", "stories": []})
        briefings.finish_run("2021-07-22", "tz=UTC;sources=", now=time.time())
        svc.call_log.record(backend="fake", model="m", messages=[ChatMessage("user", "hello")], response="hi",
                            prompt_name="ask", prompt_version="v1", retrieved_ids=["a:1"])
        articles = [svc.catalog.get_article(a["id"]) for a in svc.catalog.list_articles(Filters(), limit=100,
                                                                                        offset=0)[0]]
        assert any(s["boilerplate"] for a in articles for s in a["sentences"])
        lexical, search, dense = _seen_by(svc)
        return Desk(settings, key, svc.embedder, articles, lexical, search, dense)
    finally:
        svc.close()


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, desk: Desk) -> Iterator[CliRunner]:
    monkeypatch.setenv("NEWSDESK_DATA_DIR", str(desk.settings.data_dir))
    monkeypatch.setenv("NEWSDESK_COLLECTION_PREFIX", desk.settings.collection_prefix)
    for var in ("NEWSDESK_DATABASE_URL", "NEWSDESK_CHROMA_HOST", "NEWSDESK_CHROMA_PORT"):
        monkeypatch.delenv(var, raising=False)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def copy(cli: CliRunner, url: str, chroma: ChromaServer | None, *extra: str) -> Any:
    target = ["--chroma-host", chroma.host, "--chroma-port", str(chroma.port)] if chroma else []
    return cli.invoke(cli_app, ["db", "copy", "--to", url, *target, "-q", *extra])


def counted(stdout: str) -> dict[str, tuple[int, int, str]]:
    """name -> (source, target, ok|DIFFERENT) from the printed table."""
    out = {}
    for line in stdout.splitlines():
        if m := re.match(r"^(table|index|vectors)\s+(.+?)\s+(-?\d+)\s+(-?\d+)\s+(ok|DIFFERENT)$", line.strip()):
            out[m[2]] = (int(m[3]), int(m[4]), m[5])
    return out


def test_a_desk_copied_to_postgresql_and_a_chroma_server_serves_the_same(
        cli: CliRunner, desk: Desk, pg_url: str, chroma_server: ChromaServer) -> None:
    r = copy(cli, pg_url, chroma_server)
    assert r.exit_code == 0, r.output
    got = counted(r.stdout)
    n_articles, n_sentences = len(desk.articles), sum(len(a["sentences"]) for a in desk.articles)
    assert got["articles"] == (n_articles, n_articles, "ok")
    assert got["sentences"] == (n_sentences, n_sentences, "ok")
    for name in ("api_keys", "feeds", "feed_entries", "briefings", "briefing_runs", "calls", "article_copies"):
        assert got[name][:2] == (1, 1) or (name == "article_copies" and got[name][0] == got[name][1] > 0), (name, got)
    indexed = sum(1 for a in desk.articles for s in a["sentences"] if s["boilerplate"] is None)
    assert got["lexical index (sentences)"] == (indexed, indexed, "ok")
    prefix = desk.settings.collection_prefix
    assert got[f"{prefix}_sentences"][0] >= indexed and got[f"{prefix}_chunks"][0] > 0
    assert all(v[2] == "ok" for v in got.values()), got
    vectors = got[f"{prefix}_sentences"][1] + got[f"{prefix}_chunks"][1]
    assert f"{n_articles} articles and {vectors} vectors written" in r.stdout
    assert "s3cret" not in r.output and desk.key not in r.output

    node = Settings(data_dir=desk.settings.data_dir.parent / "node", llm_backend="fake", database_url=pg_url,
                    chroma_host=chroma_server.host, chroma_port=chroma_server.port,
                    collection_prefix=prefix)
    svc = build_services(node, embedder=desk.embedder)
    try:
        assert not (node.data_dir / "catalog.sqlite3").exists()  # the node reads nothing local
        for art in desk.articles:
            there = svc.catalog.get_article(art["id"])
            assert there == art  # text, version, hash, times, sentences with offsets and boilerplate
            for s in there["sentences"]:
                assert there["text"][s["start"] : s["end"]] == s["text"]
        keys = [(a["id"], s["idx"]) for a in desk.articles for s in a["sentences"]]
        quotes = svc.catalog.quotes(keys)
        assert all(quotes[(a["id"], s["idx"])] == s["text"] for a in desk.articles for s in a["sentences"])
        lexical, search, dense = _seen_by(svc)
        for q in QUERIES:
            assert [h[:2] for h in lexical[q]] == [h[:2] for h in desk.lexical[q]], q
            assert [h[2] for h in lexical[q]] == pytest.approx([h[2] for h in desk.lexical[q]], rel=1e-6), q
            assert search[q] == desk.search[q], q
            assert dense[q] == desk.dense[q], q
        assert svc.keys.verify(desk.key).name == "desk"
        assert svc.call_log.list()[0]["response"] == "hi"
        first = desk.articles[0]["id"]
        assert svc.catalog.copies(first) or svc.catalog.copies(first + "-wire")
        assert open_feeds(node).get(feed_id_for("https://example.org/feed.xml"))["entries_seen"] == 1
        assert open_briefings(node).get("2021-07-22", "tz=UTC;sources=") is not None
        assert open_briefings(node).run("2021-07-22", "tz=UTC;sources=")["state"] == "done"
        next_call = svc.call_log.record(backend="fake", model="m", messages=[ChatMessage("user", "again")],
                                        response="ok")
        assert next_call == 2  # the node's log continues after the copied ids
    finally:
        svc.close()

    with psycopg.connect(pg_url, autocommit=True) as conn:  # undo the node's own call: the target is this desk's
        conn.execute("DELETE FROM calls WHERE id = 2")
    again = copy(cli, pg_url, chroma_server)
    assert again.exit_code == 0, again.output
    assert "0 articles and 0 vectors written" in again.stdout
    assert counted(again.stdout) == got

    with psycopg.connect(pg_url, autocommit=True) as conn:  # a target that lost a row is found out
        conn.execute("DELETE FROM sentences WHERE (article_id, idx) = (%s, 0)", (desk.articles[0]["id"],))
    broken = copy(cli, pg_url, chroma_server)
    assert broken.exit_code == 1, broken.output
    assert counted(broken.stdout)["sentences"] == (n_sentences, n_sentences - 1, "DIFFERENT")
    assert "counts differ for sentences" in broken.stderr


def test_a_target_holding_another_desks_rows_is_refused(cli: CliRunner, desk: Desk, pg_url: str,
                                                       chroma_server: ChromaServer) -> None:
    with closing(open_keys(Settings(data_dir=desk.settings.data_dir.parent / "other", database_url=pg_url))) as keys:
        keys.create("another desk", "read")
    r = copy(cli, pg_url, chroma_server)
    assert r.exit_code == Conflict.exit_code, r.output
    assert "not this desk's (api_keys: 1)" in r.stderr and "Traceback" not in r.output
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0] == 0  # nothing was written


def test_an_unreachable_or_bad_target_is_a_clear_message(cli: CliRunner, desk: Desk, pg_url: str,
                                                         chroma_server: ChromaServer) -> None:
    down = f"postgresql://desk:s3cret-pw@127.0.0.1:{free_port()}/desk"
    r = copy(cli, down, chroma_server)
    assert r.exit_code == ConfigError.exit_code, r.output
    assert "cannot connect to PostgreSQL at postgresql://desk:***@127.0.0.1" in r.stderr and "(--to)" in r.stderr
    assert "s3cret-pw" not in r.output and "Traceback" not in r.output

    r = copy(cli, "mysql://desk@localhost/desk", chroma_server)
    assert r.exit_code == ConfigError.exit_code and "--to must be a PostgreSQL URL" in r.stderr, r.output

    r = copy(cli, pg_url, None)
    assert r.exit_code == ConfigError.exit_code and "no target Chroma server" in r.stderr, r.output

    r = cli.invoke(cli_app, ["db", "copy", "--to", pg_url, "--chroma-host", "127.0.0.1", "--chroma-port",
                             str(free_port())])
    assert r.exit_code == ConfigError.exit_code and "cannot reach the Chroma server" in r.stderr, r.output


def test_nothing_to_copy_from_an_empty_data_dir(cli: CliRunner, pg_url: str, chroma_server: ChromaServer,
                                                monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NEWSDESK_DATA_DIR", str(tmp_path / "nothing"))
    get_settings.cache_clear()
    r = copy(cli, pg_url, chroma_server)
    assert r.exit_code == ConfigError.exit_code and "catalog.sqlite3 is missing" in r.stderr, r.output
