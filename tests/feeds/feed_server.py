"""A real HTTP server on 127.0.0.1 (a free port) that serves feeds and article pages.

Each path has a :class:`Route`: status, body, headers, an optional ETag / Last-Modified that turn
a matching conditional request into a 304, and an optional delay.  Every request is recorded, and
the server counts how many requests for one path are in flight at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    etag: str | None = None
    last_modified: str | None = None
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    send_length: bool = True


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    status: int


class FeedServer:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Seen] = []
        self.in_flight: dict[str, int] = {}
        self.max_in_flight: dict[str, int] = {}
        self.lock = threading.Lock()
        self.release = threading.Event()  # set at shutdown: ends every delay at once
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                path = self.path
                seen = Seen(path, dict(self.headers.items()), 0)  # recorded before the reply goes out
                with server.lock:
                    route = server.routes.get(path)
                    server.requests.append(seen)
                    server.in_flight[path] = server.in_flight.get(path, 0) + 1
                    server.max_in_flight[path] = max(server.max_in_flight.get(path, 0), server.in_flight[path])
                self._left = False
                try:
                    seen.status = self._serve(route)
                finally:
                    self._leave()

            def _leave(self) -> None:
                """A request stops being in flight when its reply starts: from then on the client may
                finish and let another worker in, before this thread gets to run again."""
                if not self._left:
                    self._left = True
                    with server.lock:
                        server.in_flight[self.path] -= 1

            def _serve(self, route: Route | None) -> int:
                if route is None:
                    return self._send(404, b"not found", "text/plain", {})
                if route.delay_s:
                    server.release.wait(route.delay_s)
                inm, ims = self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")
                if inm is not None:  # RFC 9110: If-Modified-Since is ignored when If-None-Match is sent
                    if route.etag and inm == route.etag:
                        return self._send(304, b"", None, {"ETag": route.etag})
                elif route.last_modified and ims == route.last_modified:
                    return self._send(304, b"", None, {"Last-Modified": route.last_modified})
                extra = dict(route.headers)
                if route.etag:
                    extra["ETag"] = route.etag
                if route.last_modified:
                    extra["Last-Modified"] = route.last_modified
                return self._send(route.status, route.body, route.content_type, extra, route.send_length)

            def _send(self, status: int, body: bytes, ctype: str | None, headers: dict[str, str],
                      send_length: bool = True) -> int:
                self._leave()
                try:
                    self.send_response(status)
                    if ctype:
                        self.send_header("Content-Type", ctype)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    if send_length:
                        self.send_header("Content-Length", str(len(body)))
                    else:
                        self.send_header("Connection", "close")
                        self.close_connection = True
                    self.end_headers()
                    if status != 304:
                        self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                return status

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="feed-server", daemon=True)

    def start(self) -> FeedServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def set(self, path: str, body: str | bytes, **kw: object) -> Route:
        route = Route(body.encode() if isinstance(body, str) else body, **kw)  # type: ignore[arg-type]
        with self.lock:
            self.routes[path] = route
        return route

    def hits(self, path: str) -> int:
        with self.lock:
            return sum(1 for r in self.requests if r.path == path)

    def paths(self) -> list[str]:
        with self.lock:
            return [r.path for r in self.requests]

    def clear(self) -> None:
        with self.lock:
            self.requests.clear()


def serve() -> Iterator[FeedServer]:
    server = FeedServer().start()
    try:
        yield server
    finally:
        server.stop()


# --- documents ------------------------------------------------------------------------------


@dataclass
class Item:
    slug: str
    title: str
    paragraphs: list[str]
    published: datetime
    summary: str = ""
    guid: str | None = None
    updated: datetime | None = None

    @property
    def lead(self) -> str:
        return self.summary or self.paragraphs[0]


def rfc822(dt: datetime) -> str:
    return format_datetime(dt.astimezone(UTC), usegmt=True)


def rss(server: FeedServer, items: list[Item], *, title: str = "The Harbour Gazette",
        link_query: str = "") -> str:
    parts = []
    for it in items:
        link = server.url(f"/news/{it.slug}{link_query}")
        parts.append(
            f"<item><title>{escape(it.title)}</title><link>{escape(link)}</link>"
            f"<guid isPermaLink=\"false\">{escape(it.guid or it.slug)}</guid>"
            f"<pubDate>{rfc822(it.published)}</pubDate>"
            f"<description>{escape('<p>' + it.lead + '</p>')}</description></item>")
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>{escape(title)}</title>'
            f"<link>{server.url('/')}</link><description>News</description>{''.join(parts)}</channel></rss>")


def atom(server: FeedServer, items: list[Item], *, title: str = "Valley Wire") -> str:
    parts = []
    for it in items:
        updated = (it.updated or it.published).isoformat().replace("+00:00", "Z")
        parts.append(
            f"<entry><title>{escape(it.title)}</title><link href=\"{escape(server.url('/wire/' + it.slug))}\"/>"
            f"<id>urn:wire:{escape(it.guid or it.slug)}</id><published>{it.published.isoformat()}</published>"
            f"<updated>{updated}</updated><summary>{escape(it.lead)}</summary></entry>")
    return (f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>{escape(title)}</title><id>urn:wire</id><updated>2024-03-05T12:00:00Z</updated>"
            f"{''.join(parts)}</feed>")


def page(item: Item, *, canonical: str | None = None, site: str = "The Harbour Gazette") -> str:
    canon = f'<link rel="canonical" href="{escape(canonical)}">' if canonical else ""
    body = "".join(f"<p>{escape(p)}</p>" for p in item.paragraphs)
    return (f"<!doctype html><html><head><title>{escape(item.title)} | {escape(site)}</title>{canon}"
            f'<meta property="og:site_name" content="{escape(site)}"></head><body>'
            f"<nav><a href='/'>Home</a> <a href='/sport'>Sport</a> NAVSENTINEL</nav>"
            f"<article><h1>{escape(item.title)}</h1>{body}</article>"
            f"<footer>FOOTERSENTINEL Privacy policy</footer><script>var SCRIPTSENTINEL=1;</script></body></html>")


def now_http() -> str:
    return format_datetime(datetime.now(UTC), usegmt=True)


def wait_for(predicate: object, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False
