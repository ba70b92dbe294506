"""Polling feeds over real HTTP on loopback: ingest, 304, updates, fallbacks, errors, backoff."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from service.errors import Conflict
from service.feeds.manage import add_feed, get_feed, remove_feed
from service.feeds.poll import PollReport, backoff_delay, poll_feed
from service.runtime import Services
from service.store.catalog import Filters
from service.store.feeds import feed_store
from tests.feeds.conftest import STORIES
from tests.feeds.feed_server import FeedServer, atom, page, rss, wait_for

W = "test-worker"


def serve_gazette(server: FeedServer, items: list[Any] = STORIES, *, etag: str | None = '"v1"',
                  canonical: bool = True) -> None:
    server.set("/rss.xml", rss(server, items, link_query="?utm_source=rss&utm_medium=feed"),
               content_type="application/rss+xml; charset=utf-8", etag=etag,
               last_modified="Tue, 05 Mar 2024 12:00:00 GMT")
    for it in items:
        canon = server.url(f"/news/{it.slug}?utm_campaign=x") if canonical else None
        server.set(f"/news/{it.slug}?utm_source=rss&utm_medium=feed", page(it, canonical=canon))


def poll(services: Services, feed_id: str, **kw: Any) -> PollReport:
    report = poll_feed(services, feed_id, worker=W, **kw)
    assert report is not None
    return report


def snapshot(services: Services) -> dict[str, Any]:
    rows, _ = services.catalog.list_articles(Filters(), limit=500, offset=0)
    full = {r["id"]: services.catalog.get_article(r["id"]) for r in rows}
    return {"articles": {k: (v["content_hash"], v["updated_at"], v["ingested_at"]) for k, v in full.items()},
            "vectors": services.store.stats()}


def test_first_poll_ingests_every_entry_with_its_metadata(feed_services: Services, feed_server: FeedServer) -> None:
    serve_gazette(feed_server)
    feed = add_feed(feed_services.settings, feed_server.url("/rss.xml"), every="15m")
    report = poll(feed_services, feed["id"])
    assert report.status == "ok" and report.http_status == 200
    assert (report.entries, report.new, report.created, report.failed) == (3, 3, 3, 0), report
    for item, story in zip(report.items, STORIES, strict=True):
        assert item.status == "created" and item.text_from == "page" and item.warnings == []
        # canonical URL: the page's rel=canonical, tracking parameters gone
        assert item.url == feed_server.url(f"/news/{story.slug}")
        art = feed_services.catalog.get_article(item.article_id)  # type: ignore[arg-type]
        assert art is not None
        assert art["title"] == story.title
        assert art["url"] == feed_server.url(f"/news/{story.slug}")
        assert art["source"] == "The Harbour Gazette"  # the feed's title
        assert datetime.fromisoformat(art["published_iso"]) == story.published  # from RFC 822 <pubDate>
        assert story.paragraphs[1] in art["text"]  # the page's full text, not the feed's summary
        for junk in ("NAVSENTINEL", "FOOTERSENTINEL", "SCRIPTSENTINEL"):
            assert junk not in art["text"]
    status = get_feed(feed_services.settings, feed["id"])
    assert status["last_success_at"] and status["last_error"] is None and status["failures"] == 0
    assert status["etag"] == '"v1"' and status["last_modified"] == "Tue, 05 Mar 2024 12:00:00 GMT"
    assert status["entries_seen"] == 3 and status["articles"] == 3 and status["title"] == "The Harbour Gazette"
    assert status["next_poll_at"] == pytest.approx(report.polled_at + 900)
    hits = feed_services.retriever.search("how many votes approved the sea wall", k=3)
    assert hits.sentences and hits.sentences[0].article_id == report.items[0].article_id


def test_atom_with_iso_dates_and_an_explicit_source(feed_services: Services, feed_server: FeedServer) -> None:
    feed_server.set("/atom.xml", atom(feed_server, STORIES[:2]), content_type="application/atom+xml")
    for it in STORIES[:2]:
        feed_server.set(f"/wire/{it.slug}", page(it, site="Valley Wire"))
    feed = add_feed(feed_services.settings, feed_server.url("/atom.xml"), source="Valley Wire Service")
    report = poll(feed_services, feed["id"])
    assert (report.created, report.failed) == (2, 0)
    for item, story in zip(report.items, STORIES[:2], strict=True):
        art = feed_services.catalog.get_article(item.article_id)  # type: ignore[arg-type]
        assert art["source"] == "Valley Wire Service"  # type: ignore[index]
        assert datetime.fromisoformat(art["published_iso"]) == story.published  # type: ignore[index]
        assert item.key == f"urn:wire:{story.slug}"


def test_a_second_poll_is_a_304_and_writes_nothing(feed_services: Services, feed_server: FeedServer) -> None:
    serve_gazette(feed_server)
    feed = add_feed(feed_services.settings, feed_server.url("/rss.xml"))
    poll(feed_services, feed["id"])
    before = snapshot(feed_services)
    entries_before = feed_store(feed_services.settings).entries(feed["id"])
    feed_server.clear()
    time.sleep(1.1)  # a write would move updated_at, which has one-second resolution
    report = poll(feed_services, feed["id"])
    assert report.status == "not-modified" and report.http_status == 304
    assert report.items == [] and report.created == report.updated == 0
    assert feed_server.paths() == ["/rss.xml"]  # no page fetched
    sent = feed_server.requests[0].headers
    assert sent.get("If-None-Match") == '"v1"' and sent.get("If-Modified-Since") == "Tue, 05 Mar 2024 12:00:00 GMT"
    assert snapshot(feed_services) == before
    assert feed_store(feed_services.settings).entries(feed["id"]) == entries_before


def test_an_unchanged_body_without_validators_also_writes_nothing(feed_services: Services,
                                                                  feed_server: FeedServer) -> None:
    serve_gazette(feed_server, etag=None)
    feed_server.routes["/rss.xml"].last_modified = None
    feed = add_feed(feed_services.settings, feed_server.url("/rss.xml"))
    poll(feed_services, feed["id"])
    before = snapshot(feed_services)
    feed_server.clear()
    report = poll(feed_services, feed["id"])
    assert report.status == "not-modified" and report.http_status == 200
    assert feed_server.paths() == ["/rss.xml"] and snapshot(feed_services) == before


def test_an_updated_entry_becomes_a_new_version(feed_services: Services, feed_server: FeedServer) -> None:
    serve_gazette(feed_server)
    feed = add_feed(feed_services.settings, feed_server.url("/rss.xml"))
    first = poll(feed_services, feed["id"])
    aid = first.items[0].article_id
    old = feed_services.catalog.get_article(aid)  # type: ignore[arg-type]
    edited = replace(STORIES[0], title="Harbour council approves sea wall plan, 9-4",
                     paragraphs=[*STORIES[0].paragraphs, "The mayor said on Wednesday she would sign the "
                                 "contract before the end of the month, so that work can begin in April."])
    serve_gazette(feed_server, [edited, *STORIES[1:]], etag='"v2"')
    feed_server.clear()
    report = poll(feed_services, feed["id"])
    assert report.status == "ok"
    assert (report.changed, report.seen, report.updated, report.created) == (1, 2, 1, 0), report
    assert report.items[0].status == "updated" and report.items[0].article_id == aid
    assert [i.status for i in report.items[1:]] == ["seen", "seen"]
    pages = [p for p in feed_server.paths() if p.startswith("/news/")]
    assert pages == ["/news/sea-wall?utm_source=rss&utm_medium=feed"]  # only the changed entry's page
    new = feed_services.catalog.get_article(aid)  # type: ignore[arg-type]
    assert new["version"] != old["version"] and "sign the contract" in new["text"]  # type: ignore[index]
    assert new["ingested_at"] == old["ingested_at"]  # type: ignore[index]
    assert feed_services.retriever.search("when will the mayor sign the contract", k=1).sentences[0].article_id == aid
    assert feed_services.store.stats()["articles"] == 3


def test_a_broken_page_falls_back_to_the_summary(feed_services: Services, feed_server: FeedServer) -> None:
    serve_gazette(feed_server)
    slug = "/news/{}?utm_source=rss&utm_medium=feed"
    feed_server.set(slug.format("sea-wall"), "oops", status=500, content_type="text/plain")
    feed_server.set(slug.format("ferry-timetable"), b"%PDF-1.4 ...", content_type="application/pdf")
    feed_server.set(slug.format("cycle-lane"), "<html><body><div id=app></div><script>x()</script></body></html>")
    feed = add_feed(feed_services.settings, feed_server.url("/rss.xml"))
    report = poll(feed_services, feed["id"])
    assert (report.created, report.failed) == (3, 0)
    reasons = [" ".join(i.warnings) for i in report.items]
    assert "HTTP 500" in reasons[0] and "application/pdf" in reasons[1] and "characters of main text" in reasons[2]
    for item, story in zip(report.items, STORIES, strict=True):
        assert item.text_from == "summary"
        art = feed_services.catalog.get_article(item.article_id)  # type: ignore[arg-type]
        assert art["text"] == story.summary  # type: ignore[index]
        assert item.url == feed_server.url(f"/news/{story.slug}")  # tracking parameters still dropped


def test_a_failed_page_does_not_replace_a_stored_full_text(feed_services: Services, feed_server: FeedServer) -> None:
    serve_gazette(feed_server)
    feed = add_feed(feed_services.settings, feed_server.url("/rss.xml"))
    aid = poll(feed_services, feed["id"]).items[0].article_id
    full = feed_services.catalog.get_article(aid)  # type: ignore[arg-type]
    edited = replace(STORIES[0], summary="The council approved the sea wall, 9-4.")
    serve_gazette(feed_server, [edited, *STORIES[1:]], etag='"v2"')
    feed_server.set("/news/sea-wall?utm_source=rss&utm_medium=feed", "down", status=503, content_type="text/plain")
    report = poll(feed_services, feed["id"])
    assert report.items[0].status == "unchanged" and "kept the stored full text" in report.items[0].warnings[-1]
    assert feed_services.catalog.get_article(aid)["content_hash"] == full["content_hash"]  # type: ignore[index]


def test_one_bad_entry_never_stops_the_feed(feed_services: Services, feed_server: FeedServer) -> None:
    serve_gazette(feed_server)
    doc = rss(feed_server, STORIES).replace(
        "</channel>", "<item><title>Link-less, text-less</title><guid isPermaLink='false'>empty</guid></item>"
                      "<item><title>Bad date</title><guid isPermaLink='false'>bad-date</guid>"
                      "<pubDate>the fifth of March</pubDate>"
                      "<description>The pier reopened after repairs, the harbour master said on Tuesday."
                      "</description></item></channel>")
    feed_server.set("/rss.xml", doc, content_type="application/rss+xml")
    for it in STORIES:
        feed_server.set(f"/news/{it.slug}", page(it))
    feed = add_feed(feed_services.settings, feed_server.url("/rss.xml"))
    report = poll(feed_services, feed["id"])
    by_key = {i.key: i for i in report.items}
    assert report.created == 4 and report.failed == 1
    assert by_key["empty"].status == "failed" and "no text" in (by_key["empty"].error or "")
    assert "no link" in (by_key["empty"].error or "")
    assert by_key["bad-date"].status == "created" and by_key["bad-date"].published_at is None
    assert any("unrecognised date" in w for w in by_key["bad-date"].warnings)
    assert all(by_key[s.slug].status == "created" for s in STORIES)


def test_the_same_canonical_url_is_one_article(feed_services: Services, feed_server: FeedServer) -> None:
    """Two feeds (and a duplicate entry) that link the same story through different tracking links."""
    serve_gazette(feed_server)
    twin = replace(STORIES[0], guid="sea-wall-again")
    feed_server.set("/rss.xml", rss(feed_server, [*STORIES, twin], link_query="?utm_source=rss&utm_medium=feed"),
                    content_type="application/rss+xml")
    feed_server.set("/other.xml", rss(feed_server, STORIES[:1], title="Gazette: Top stories",
                                      link_query="?utm_source=top"), content_type="application/rss+xml")
    feed_server.set("/news/sea-wall?utm_source=top", page(STORIES[0]))
    a = add_feed(feed_services.settings, feed_server.url("/rss.xml"))
    b = add_feed(feed_services.settings, feed_server.url("/other.xml"))
    first = poll(feed_services, a["id"])
    assert first.created == 3 and first.items[3].status == "unchanged"
    assert "same canonical URL" in first.items[3].warnings[0]
    second = poll(feed_services, b["id"])
    assert second.items[0].article_id == first.items[0].article_id and second.items[0].status == "unchanged"
    assert feed_services.store.stats()["articles"] == 3


def test_a_feed_that_times_out_backs_off(feed_services: Services, feed_server: FeedServer) -> None:
    feed_server.set("/slow.xml", rss(feed_server, STORIES), content_type="application/rss+xml", delay_s=10.0)
    settings = feed_services.settings.model_copy(update={"fetch_timeout_s": 0.4})
    svc = replace(feed_services, settings=settings)
    feed = add_feed(settings, feed_server.url("/slow.xml"), every="10m")
    waits = []
    for n in (1, 2, 3):
        t = time.time()
        report = poll(svc, feed["id"], now=t)
        assert report.status == "error" and report.error_kind == "timeout", report
        assert "timed out" in (report.error or "")
        waits.append(report.next_poll_at - t)
        status = get_feed(settings, feed["id"])
        assert status["failures"] == n and status["last_error_kind"] == "timeout"
        assert status["next_poll_at"] == pytest.approx(report.next_poll_at)
    # 10 minutes doubled per failure in a row, with up to 10% jitter
    for wait, base in zip(waits, (1200, 2400, 4800), strict=True):
        assert base <= wait <= base * 1.1
    assert feed_services.store.stats()["articles"] == 0
    # back to health: the wait resets to the interval
    feed_server.routes["/slow.xml"].delay_s = 0
    for it in STORIES:
        feed_server.set(f"/news/{it.slug}", page(it))
    report = poll(svc, feed["id"])
    assert report.status == "ok" and get_feed(settings, feed["id"])["failures"] == 0
    assert report.next_poll_at - report.polled_at == 600


def test_backoff_is_capped_and_honours_retry_after() -> None:
    assert backoff_delay(600, 1, cap_s=3600, rng=lambda: 0.0) == 1200
    assert backoff_delay(600, 10, cap_s=3600, rng=lambda: 0.0) == 3600
    assert backoff_delay(600, 1, cap_s=3600, retry_after=3000, rng=lambda: 0.0) == 3000
    assert backoff_delay(600, 1, cap_s=3600, retry_after=99999, rng=lambda: 0.0) == 3600


def test_html_instead_of_a_feed_is_a_clear_error(feed_services: Services, feed_server: FeedServer) -> None:
    feed_server.set("/", "<!doctype html><html><head><title>Home</title></head><body>Hi</body></html>",
                    content_type="text/html")
    feed = add_feed(feed_services.settings, feed_server.url("/"))
    report = poll(feed_services, feed["id"])
    assert report.status == "error" and report.error_kind == "content-type" and "text/html" in (report.error or "")


def test_a_held_feed_is_a_conflict_for_a_manual_poll(feed_services: Services, feed_server: FeedServer) -> None:
    serve_gazette(feed_server)
    feed = add_feed(feed_services.settings, feed_server.url("/rss.xml"))
    store = feed_store(feed_services.settings)
    assert store.claim(feed["id"], "someone-else", now=time.time(), stale_after_s=300)
    with pytest.raises(Conflict, match="someone-else"):
        poll_feed(feed_services, feed["id"], worker=W)
    assert poll_feed(feed_services, feed["id"], worker=W, only_if_due=True) is None
    assert feed_server.requests == []
    store.release(feed["id"], "someone-else")
    assert poll(feed_services, feed["id"]).created == 3


def test_published_dates_in_utc_match_the_feed(feed_services: Services, feed_server: FeedServer) -> None:
    serve_gazette(feed_server)
    feed = add_feed(feed_services.settings, feed_server.url("/rss.xml"))
    report = poll(feed_services, feed["id"])
    assert [i.published_at for i in report.items] == [s.published.astimezone(UTC).isoformat() for s in STORIES]


def test_private_addresses_are_refused_for_feeds_and_pages(feed_services: Services, feed_server: FeedServer,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           no_connections: list[object]) -> None:
    """The resolver is stubbed: *.newsroom.test resolve to 10.9.8.7. The feed itself is refused at
    the check; an entry on loopback linking to such a page falls back to its summary."""
    real = socket.getaddrinfo

    def resolver(host: str, port: int, *args: Any, **kw: Any) -> Any:
        if host.endswith(".newsroom.test"):
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.9.8.7", port))]
        return real(host, port, *args, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    feed = add_feed(feed_services.settings, "http://feeds.newsroom.test/rss.xml")
    report = poll(feed_services, feed["id"])
    assert report.status == "error" and report.error_kind == "refused"
    assert "10.9.8.7" in (report.error or "") and "private address" in (report.error or "")
    assert get_feed(feed_services.settings, feed["id"])["failures"] == 1

    doc = rss(feed_server, STORIES[:1]).replace(feed_server.url("/news/sea-wall"), "http://www.newsroom.test/x")
    feed_server.set("/rss.xml", doc, content_type="application/rss+xml")
    local = add_feed(feed_services.settings, feed_server.url("/rss.xml"))
    item = poll(feed_services, local["id"]).items[0]
    assert item.status == "created" and item.text_from == "summary"
    assert "refused" in item.warnings[0] and "10.9.8.7" in item.warnings[0]
    assert {a[0] for a in no_connections} == {"127.0.0.1"}  # type: ignore[index]


def test_removing_a_feed_while_it_is_polled(feed_services: Services, feed_server: FeedServer) -> None:
    serve_gazette(feed_server)
    for it in STORIES:
        feed_server.routes[f"/news/{it.slug}?utm_source=rss&utm_medium=feed"].delay_s = 0.5
    feed = add_feed(feed_services.settings, feed_server.url("/rss.xml"))
    out: list[PollReport] = []
    t = threading.Thread(target=lambda: out.append(poll(feed_services, feed["id"])))
    t.start()
    assert wait_for(lambda: get_feed(feed_services.settings, feed["id"])["polling_by"] == W, timeout=5)
    remove_feed(feed_services.settings, feed["id"])
    t.join(30)
    assert out and out[0].created == 3  # the poll in flight finishes; its articles are kept
    assert feed_store(feed_services.settings).get(feed["id"]) is None
    assert feed_store(feed_services.settings).entries(feed["id"]) == {}
