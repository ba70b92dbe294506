"""Canonical article URLs: one story, one URL, whichever feed or tracking link it came through."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_TRACKING = {"fbclid", "gclid", "dclid", "gclsrc", "msclkid", "mc_cid", "mc_eid", "igshid", "yclid", "_ga",
             "ocid", "cmpid", "ncid", "ref_src", "smid", "smtyp", "at_medium", "at_campaign", "wt_mc", "taid"}


def canonical_url(url: str) -> str:
    """Lower-case scheme and host, no default port, no fragment, no tracking parameters."""
    p = urlsplit(url.strip())
    scheme = p.scheme.lower()
    host = (p.hostname or "").lower().rstrip(".")
    if ":" in host:
        host = f"[{host}]"
    try:
        port = p.port
    except ValueError:
        port = None
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    query = [(k, v) for k, v in parse_qsl(p.query, keep_blank_values=True)
             if not k.lower().startswith("utm_") and k.lower() not in _TRACKING]
    return urlunsplit((scheme, host, p.path or "/", urlencode(query, doseq=True), ""))


def same_site(a: str, b: str) -> bool:
    """Same host, ignoring a leading www. (a page may only name a canonical URL on its own site)."""
    def host(u: str) -> str:
        return (urlsplit(u).hostname or "").lower().rstrip(".").removeprefix("www.")

    return bool(host(a)) and host(a) == host(b)
