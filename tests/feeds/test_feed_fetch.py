"""The fetcher's safety checks: scheme, address (SSRF), redirects, content type, size, time.

The private-address tests stub the resolver so that a test name resolves to a private address;
the refusal must come at the check, before any connection: ``socket.create_connection`` and
``socket.socket.connect`` are wrapped by a recorder that lets loopback through and fails the test on
any other address.
"""

from __future__ import annotations

import socket

import pytest

from service.errors import FetchFailed
from service.feeds.fetch import FEED_TYPES, PAGE_TYPES, Fetcher, Policy, address_refusal, check_url
from tests.feeds.feed_server import FeedServer

LOOPBACK = Policy(timeout_s=2.0, allow_loopback=True)


def test_a_private_address_is_refused_at_the_check(monkeypatch: pytest.MonkeyPatch,
                                                   no_connections: list[object]) -> None:
    """The system resolver is stubbed: feeds.newsroom.test resolves to 10.20.30.40."""
    asked: list[str] = []

    def fake_getaddrinfo(host: str, port: int, *args: object, **kw: object) -> list[tuple[object, ...]]:
        asked.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.20.30.40", port))]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    with Fetcher(Policy(allow_loopback=True)) as f, pytest.raises(FetchFailed) as caught:
        f.get("http://feeds.newsroom.test/rss.xml", accept=FEED_TYPES, max_bytes=10_000)
    assert caught.value.kind == "refused"
    assert "10.20.30.40" in caught.value.detail and "private address" in caught.value.detail
    assert asked == ["feeds.newsroom.test"] and no_connections == []


@pytest.mark.parametrize(("address", "allowed_by"), [
    ("10.0.0.8", "private"), ("172.16.4.4", "private"), ("192.168.1.1", "private"), ("100.64.0.9", "private"),
    ("fd12::1", "private"), ("127.0.0.1", "loopback"), ("::1", "loopback"), ("::ffff:10.1.1.1", "private"),
    ("169.254.169.254", None), ("fe80::1", None), ("0.0.0.0", None), ("224.0.0.1", None),
])
def test_every_non_public_address_is_refused_by_default(address: str, allowed_by: str | None,
                                                        no_connections: list[object]) -> None:
    resolver_answers = {"internal.test": [address]}
    with Fetcher(Policy(), resolver=lambda host, port: resolver_answers[host]) as f:
        with pytest.raises(FetchFailed, match="refused"):
            f.get("https://internal.test/feed", accept=FEED_TYPES, max_bytes=1000)
    assert (address_refusal(address, Policy(allow_private=True)) is None) == (allowed_by == "private")
    assert (address_refusal(address, Policy(allow_loopback=True)) is None) == (allowed_by == "loopback")
    assert address_refusal("93.184.216.34", Policy()) is None  # a public address passes the check
    assert no_connections == []


def test_one_private_answer_among_public_ones_is_enough_to_refuse(no_connections: list[object]) -> None:
    with Fetcher(Policy(), resolver=lambda h, p: ["93.184.216.34", "10.0.0.1"]) as f:
        with pytest.raises(FetchFailed, match=r"10\.0\.0\.1"):
            f.get("http://mixed.test/", accept=PAGE_TYPES, max_bytes=1000)
    assert no_connections == []


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://x.test/feed", "gopher://x.test/",
                                 "http://user:pw@x.test/feed", "http:///nohost", "javascript:alert(1)"])
def test_only_plain_http_and_https_urls(url: str) -> None:
    with pytest.raises(FetchFailed) as caught:
        check_url(url)
    assert caught.value.kind == "refused"


def test_loopback_needs_the_setting(feed_server: FeedServer) -> None:
    feed_server.set("/rss.xml", "<rss/>", content_type="application/rss+xml")
    with Fetcher(Policy()) as f, pytest.raises(FetchFailed, match="NEWSDESK_FETCH_ALLOW_LOOPBACK"):
        f.get(feed_server.url("/rss.xml"), accept=FEED_TYPES, max_bytes=1000)
    assert feed_server.requests == []
    with Fetcher(LOOPBACK) as f:
        assert f.get(feed_server.url("/rss.xml"), accept=FEED_TYPES, max_bytes=1000).content == b"<rss/>"


def test_each_redirect_hop_is_checked(feed_server: FeedServer, no_connections: list[object]) -> None:
    """A loopback feed that redirects to a name resolving to a private address stops at that hop."""
    feed_server.set("/moved", "", status=302, headers={"Location": "http://intranet.test/admin"})

    def resolver(host: str, port: int) -> list[str]:
        return {"intranet.test": ["192.168.0.10"], "127.0.0.1": ["127.0.0.1"]}[host]

    with Fetcher(LOOPBACK, resolver=resolver) as f, pytest.raises(FetchFailed) as caught:
        f.get(feed_server.url("/moved"), accept=FEED_TYPES, max_bytes=1000)
    assert caught.value.kind == "refused" and "192.168.0.10" in caught.value.detail
    assert feed_server.paths() == ["/moved"]  # the first hop was fetched, the second never
    assert {a[0] for a in no_connections} == {"127.0.0.1"}  # type: ignore[index]


def test_redirects_are_followed_up_to_the_limit(feed_server: FeedServer) -> None:
    for i in range(8):
        feed_server.set(f"/r{i}", "", status=301, headers={"Location": f"/r{i + 1}"})
    feed_server.set("/r8", "<rss/>", content_type="application/rss+xml")
    with Fetcher(Policy(timeout_s=2.0, allow_loopback=True, max_redirects=8)) as f:
        got = f.get(feed_server.url("/r0"), accept=FEED_TYPES, max_bytes=1000)
    assert got.content == b"<rss/>" and got.url.endswith("/r8") and len(got.redirects) == 8
    with Fetcher(Policy(timeout_s=2.0, allow_loopback=True, max_redirects=3)) as f:
        with pytest.raises(FetchFailed) as caught:
            f.get(feed_server.url("/r0"), accept=FEED_TYPES, max_bytes=1000)
    assert caught.value.kind == "redirects"


def test_content_type_and_size_caps(feed_server: FeedServer) -> None:
    feed_server.set("/photo", b"\x89PNG....", content_type="image/png")
    feed_server.set("/big", b"x" * 5000, content_type="text/html")
    feed_server.set("/big-unannounced", b"<p>" + b"x" * 200_000, content_type="text/html", send_length=False)
    with Fetcher(LOOPBACK) as f:
        with pytest.raises(FetchFailed) as caught:
            f.get(feed_server.url("/photo"), accept=PAGE_TYPES, max_bytes=10_000)
        assert caught.value.kind == "content-type" and "image/png" in caught.value.detail
        with pytest.raises(FetchFailed) as caught:
            f.get(feed_server.url("/big"), accept=PAGE_TYPES, max_bytes=4096)
        assert caught.value.kind == "too-large"
        with pytest.raises(FetchFailed) as caught:
            f.get(feed_server.url("/big-unannounced"), accept=PAGE_TYPES, max_bytes=100_000)
        assert caught.value.kind == "too-large"


def test_a_slow_server_times_out(feed_server: FeedServer) -> None:
    feed_server.set("/slow", "<rss/>", content_type="application/rss+xml", delay_s=5.0)
    with Fetcher(Policy(timeout_s=0.5, allow_loopback=True)) as f, pytest.raises(FetchFailed) as caught:
        f.get(feed_server.url("/slow"), accept=FEED_TYPES, max_bytes=1000)
    assert caught.value.kind == "timeout"


def test_http_errors_carry_status_and_retry_after(feed_server: FeedServer) -> None:
    feed_server.set("/busy", "slow down", status=503, content_type="text/plain", headers={"Retry-After": "120"})
    with Fetcher(LOOPBACK) as f, pytest.raises(FetchFailed) as caught:
        f.get(feed_server.url("/busy"), accept=FEED_TYPES, max_bytes=1000)
    assert caught.value.kind == "http-status" and caught.value.http_status == 503
    assert caught.value.retry_after == 120.0
