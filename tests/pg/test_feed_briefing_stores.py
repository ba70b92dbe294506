"""Feeds and briefings, one contract on both engines: the same assertions against SQLite and
PostgreSQL, through two stores on the same data (what one writes, the other reads)."""

from __future__ import annotations

import pytest

from service.config import Settings
from service.store.briefings import scope_key
from service.store.feeds import feed_id_for
from tests.pg.stores import two_briefings, two_feeds

URL_A, URL_B = "https://a.example/rss", "https://b.example/feed"


def test_the_feed_contract(engine_settings: Settings) -> None:
    with two_feeds(engine_settings) as (a, b):
        fa, fb = feed_id_for(URL_A), feed_id_for(URL_B)
        assert a.add(fa, URL_A, "A", 600, now=100.0) and a.add(fb, URL_B, None, 60, now=200.0)
        assert not b.add(fa, URL_A, "A", 600, now=300.0)  # followed already
        assert not b.add("other-id", URL_A, None, 60, now=300.0)  # the URL is unique, whatever the id
        assert [f["id"] for f in b.list_feeds()] == [fa, fb]  # by created_at
        got = b.get(fa)
        assert got is not None and (got["url"], got["source"], got["every_s"], got["polls"]) == (URL_A, "A", 600, 0)
        assert (got["entries_seen"], got["articles"], got["polling_by"]) == (0, 0, None)
        assert b.by_url(URL_B)["id"] == fb and b.by_url("https://nowhere.example/") is None  # type: ignore[index]
        assert b.due(150.0) == [fa] and b.due(1e9) == [fa, fb] and b.next_due_at() == 100.0

        a.record_success(fa, now=400.0, next_poll_at=1000.0, http_status=200, etag='"e1"', last_modified=None,
                         body_hash="h1", title="Outlet A", site_url="https://a.example/")
        a.record_not_modified(fa, now=500.0, next_poll_at=1100.0, http_status=304)
        a.record_error(fb, now=600.0, next_poll_at=900.0, kind="http", error="HTTP 500", http_status=500)
        got, bad = b.get(fa), b.get(fb)
        assert got is not None and bad is not None
        assert (got["title"], got["etag"], got["polls"], got["failures"], got["next_poll_at"]) == \
            ("Outlet A", '"e1"', 2, 0, 1100.0)
        assert (bad["last_error"], bad["last_error_kind"], bad["failures"], bad["last_http_status"]) == \
            ("HTTP 500", "http", 1, 500)
        a.set_next_poll(fb, 50.0)
        assert b.next_due_at() == 50.0

        a.record_entries(fa, [("k1", "art-1", "fp1", "page"), ("k2", "art-1", "fp2", "summary")], now=700.0)
        a.record_entries(fa, [("k1", "art-9", "fp9", "page")], now=800.0)  # seen again: updated, first_seen kept
        entries = b.entries(fa)
        assert set(entries) == {"k1", "k2"}
        assert (entries["k1"]["article_id"], entries["k1"]["first_seen_at"], entries["k1"]["last_seen_at"]) == \
            ("art-9", 700.0, 800.0)
        assert (b.get(fa)["entries_seen"], b.get(fa)["articles"]) == (2, 2)  # type: ignore[index]

        assert a.claim(fa, "w1", now=900.0, stale_after_s=60)
        assert b.get(fa)["polling_by"] == "w1" and b.list_feeds()[0]["polling_since"] == 900.0  # type: ignore[index]
        assert b.remove(fa) and not b.remove(fa)
        assert b.get(fa) is None and a.entries(fa) == {}  # entries go with their feed
        a.record_entries(fa, [("k3", "art-3", "fp3", "page")], now=1000.0)  # removed while polled: ignored
        assert a.entries(fa) == {} and [f["id"] for f in a.list_feeds()] == [fb]
        assert a.claim(fa, "w2", now=1000.0, stale_after_s=60)  # remove dropped the claim too


def test_the_briefing_contract(engine_settings: Settings) -> None:
    utc, paris = scope_key("UTC", ()), scope_key("Europe/Paris", ("AP", "BBC"))
    assert paris == scope_key("Europe/Paris", ["BBC", "AP"])
    with two_briefings(engine_settings) as (a, b):
        assert b.get("2024-03-05", utc) is None and b.previous("2024-03-05", utc) is None
        a.save("2024-03-04", utc, {"stories": ["one"], "note": "é"})
        a.save("2024-03-05", utc, {"stories": ["two"]})
        a.save("2024-03-05", paris, {"stories": ["deux"]})
        a.save("2024-03-05", utc, {"stories": ["two, again"]})  # a rebuild replaces the day
        assert b.get("2024-03-05", utc) == {"stories": ["two, again"]}
        assert b.previous("2024-03-05", utc) == {"stories": ["one"], "note": "é"}
        assert b.previous("2024-03-04", utc) is None and b.previous("2024-03-06", paris) == {"stories": ["deux"]}
        assert b.dates(utc) == ["2024-03-05", "2024-03-04"] and b.dates(paris) == ["2024-03-05"]

        assert b.run("2024-03-05", utc) is None
        assert a.claim_run("2024-03-05", utc, "w1", now=10.0, stale_after_s=60)
        run = b.run("2024-03-05", utc)
        assert run is not None and (run["worker"], run["state"], run["claimed_at"]) == ("w1", "running", 10.0)
        a.finish_run("2024-03-05", utc, now=20.0, error="model down")
        assert b.run("2024-03-05", utc)["state"] == "failed"  # type: ignore[index]
        assert not b.claim_run("2024-03-05", utc, "w2", now=30.0, stale_after_s=60)  # failed, not stale
        assert b.claim_run("2024-03-05", utc, "w2", now=30.0, stale_after_s=60, retry_failed=True)
        b.finish_run("2024-03-05", utc, now=40.0)
        run = a.run("2024-03-05", utc)
        assert run is not None and (run["worker"], run["state"], run["error"], run["finished_at"]) == \
            ("w2", "done", None, 40.0)
        assert not a.claim_run("2024-03-05", utc, "w3", now=1e9, stale_after_s=60, retry_failed=True)  # final
        assert a.claim_run("2024-03-04", paris, "w3", now=50.0, stale_after_s=60)
        assert [(r["date"], r["scope"], r["state"]) for r in b.runs()] == \
            [("2024-03-04", paris, "running"), ("2024-03-05", utc, "done")]


@pytest.mark.parametrize("kind", ["feeds", "briefings"])
def test_the_sqlite_engine_writes_nothing_to_postgresql_and_back(engine_settings: Settings, kind: str) -> None:
    """Each engine keeps its rows: SQLite's file exists only on SQLite."""
    opener = two_feeds if kind == "feeds" else two_briefings
    with opener(engine_settings):
        pass
    made = (engine_settings.data_dir / f"{kind}.sqlite3").exists()
    assert made is (engine_settings.database_url is None)
