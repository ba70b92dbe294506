"""Fetching untrusted URLs (feeds and the pages their entries link to) without being turned
against the network we run in.

Every hop, the first and each redirect, is checked before any connection:

- http or https only, no credentials in the URL;
- the host is resolved here, and every address it resolves to must be public: loopback only when
  ``fetch_allow_loopback``, private networks only when ``fetch_allow_private``, link-local
  (cloud metadata), multicast, unspecified and reserved addresses never;
- the connection then goes to the checked address itself (the Host header and TLS SNI carry the
  name), so a second DNS answer cannot swap in another address (DNS rebinding);
- at most ``fetch_max_redirects`` redirects.

Bodies are read as a stream under a byte cap (after decompression, so a gzip bomb stops at the
cap) and a whole-request deadline; the media type must be one the caller accepts.  Failures are
:class:`FetchFailed` with a ``kind`` and a message that says what happened.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import httpx

from service.config import Settings
from service.errors import FetchFailed

Resolver = Callable[[str, int], list[str]]
"""host, port -> the addresses a connection would go to."""

USER_AGENT = "Newsdesk/0.1 (feed follower)"
FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/xml", "text/xml",
              "text/plain", "application/octet-stream")
PAGE_TYPES = ("text/html", "application/xhtml+xml")
_REDIRECTS = {301, 302, 303, 307, 308}
_CHUNK = 64 * 1024


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FetchFailed("network", f"cannot resolve {host!r}: {exc.strerror or exc}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True, slots=True)
class Policy:
    timeout_s: float = 15.0
    max_redirects: int = 5
    allow_loopback: bool = False
    allow_private: bool = False
    user_agent: str = USER_AGENT

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls(settings.fetch_timeout_s, settings.fetch_max_redirects, settings.fetch_allow_loopback,
                   settings.fetch_allow_private)


@dataclass(slots=True)
class Fetched:
    url: str
    """The final URL, after redirects."""
    status: int
    headers: httpx.Headers
    content: bytes = b""
    media_type: str = ""
    charset: str | None = None
    redirects: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def address_refusal(address: str, policy: Policy) -> str | None:
    """Why a connection to ``address`` is refused, or None when it is allowed."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return None if policy.allow_loopback else "a loopback address (set NEWSDESK_FETCH_ALLOW_LOOPBACK=true)"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast or ip.is_unspecified or ip.is_reserved:
        return "a multicast, unspecified or reserved address"
    if not ip.is_global:
        return None if policy.allow_private else "a private address (set NEWSDESK_FETCH_ALLOW_PRIVATE=true)"
    return None


def check_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an acceptable absolute http(s) URL, else FetchFailed('refused')."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise FetchFailed("refused", f"refused {url!r}: only http and https URLs are fetched")
    if parts.username is not None or parts.password is not None:
        raise FetchFailed("refused", f"refused {url!r}: credentials in URLs are not supported")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise FetchFailed("refused", f"refused {url!r}: bad port") from None
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise FetchFailed("refused", f"refused {url!r}: no host")
    return scheme, host, port


class Fetcher:
    """One poll's HTTP client. ``resolver`` and ``transport`` are seams for tests."""

    def __init__(self, policy: Policy, *, resolver: Resolver = system_resolver,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.policy = policy
        self.resolver = resolver
        self.transport = transport
        self._clients: dict[tuple[str, str], httpx.Client] = {}
        self._lock = threading.Lock()

    def _client(self, scheme: str, host: str) -> httpx.Client:
        """One pooled client per (scheme, host name).  Connections go to checked IP addresses, and
        a pool keyed by address alone would hand a TLS connection verified for one name (say, a CDN
        shared by two outlets) to a request for another."""
        with self._lock:
            client = self._clients.get((scheme, host))
            if client is None:
                # trust_env=False: a proxy from the environment would connect on our behalf to any address
                client = httpx.Client(timeout=httpx.Timeout(self.policy.timeout_s), follow_redirects=False,
                                      trust_env=False, transport=self.transport,
                                      headers={"User-Agent": self.policy.user_agent})
                self._clients[(scheme, host)] = client
            return client

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def resolve_checked(self, url: str) -> tuple[str, str, int, str]:
        """(scheme, host, port, address) for ``url``; FetchFailed('refused') before any connection."""
        scheme, host, port = check_url(url)
        try:
            literal = ipaddress.ip_address(host.strip("[]"))
            addresses = [str(literal)]
        except ValueError:
            addresses = self.resolver(host, port)
        if not addresses:
            raise FetchFailed("network", f"cannot resolve {host!r}")
        for address in addresses:  # every answer must be acceptable, not just the first
            why = address_refusal(address, self.policy)
            if why is not None:
                raise FetchFailed("refused", f"refused {url}: {host} resolves to {address}, {why}")
        return scheme, host, port, addresses[0]

    def get(self, url: str, *, accept: Iterable[str], max_bytes: int,
            headers: dict[str, str] | None = None) -> Fetched:
        """GET ``url`` following checked redirects; 304 comes back with an empty body."""
        start = time.monotonic()
        deadline = start + self.policy.timeout_s
        accept = tuple(accept)
        current, hops = url, []
        for _ in range(self.policy.max_redirects + 1):
            scheme, host, port, address = self.resolve_checked(current)
            fetched = self._send(current, scheme, host, port, address, accept, max_bytes, headers or {}, deadline)
            location = fetched.headers.get("location")
            if fetched.status in _REDIRECTS and location:
                hops.append(current)
                current = urljoin(current, location.strip())
                continue
            fetched.redirects = hops
            fetched.seconds = time.monotonic() - start
            return fetched
        raise FetchFailed("redirects", f"more than {self.policy.max_redirects} redirects from {url}")

    def _send(self, url: str, scheme: str, host: str, port: int, address: str, accept: tuple[str, ...],
              max_bytes: int, headers: dict[str, str], deadline: float) -> Fetched:
        target = httpx.URL(url).copy_with(host=address, fragment=None)
        default_port = 443 if scheme == "https" else 80
        host_header = host if port == default_port else f"{host}:{port}"
        if ":" in host and not host.startswith("["):
            host_header = f"[{host}]" if port == default_port else f"[{host}]:{port}"
        request_headers = {"Host": host_header, "Accept": ", ".join(accept) + ", */*;q=0.1", **headers}
        extensions = {"sni_hostname": host} if scheme == "https" else {}
        try:
            client = self._client(scheme, host)
            with client.stream("GET", target, headers=request_headers, extensions=extensions) as resp:
                out = Fetched(url, resp.status_code, resp.headers)
                if resp.status_code == 304 or resp.status_code in _REDIRECTS:
                    return out
                if resp.status_code >= 400:
                    raise FetchFailed("http-status", f"HTTP {resp.status_code} from {url}",
                                      http_status=resp.status_code, retry_after=_retry_after(resp.headers))
                if resp.status_code != 200:
                    raise FetchFailed("http-status", f"unexpected HTTP {resp.status_code} from {url}",
                                      http_status=resp.status_code)
                out.media_type, out.charset = _media_type(resp.headers.get("content-type", ""))
                if out.media_type and not any(out.media_type == t for t in accept):
                    raise FetchFailed("content-type", f"{url} is {out.media_type}, expected one of {', '.join(accept)}")
                declared = resp.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise FetchFailed("too-large", f"{url} is {declared} bytes; the limit is {max_bytes}")
                body = bytearray()
                for chunk in resp.iter_bytes(_CHUNK):
                    body += chunk
                    if len(body) > max_bytes:
                        raise FetchFailed("too-large", f"{url} exceeds the limit of {max_bytes} bytes")
                    if time.monotonic() > deadline:
                        raise FetchFailed("timeout", f"{url} took longer than {self.policy.timeout_s:g} s")
                out.content = bytes(body)
                return out
        except httpx.TimeoutException:
            raise FetchFailed("timeout", f"{url} timed out after {self.policy.timeout_s:g} s") from None
        except httpx.HTTPError as exc:
            raise FetchFailed("network", f"{url}: {type(exc).__name__}: {exc}") from None


def _media_type(header: str) -> tuple[str, str | None]:
    media, _, params = header.partition(";")
    charset = None
    for p in params.split(";"):
        k, _, v = p.strip().partition("=")
        if k.lower() == "charset" and v:
            charset = v.strip("\"' ").lower()
    return media.strip().lower(), charset


def _retry_after(headers: httpx.Headers) -> float | None:
    value = headers.get("retry-after")
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
