"""``newsdesk feeds add|list|remove|poll``.

service/cli.py creates the ``feeds`` sub-app and passes its domain-error edge to
:func:`register` (as it does for ``eval``), so this module never imports the CLI.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console

from service.config import get_settings

out = Console()
err = Console(stderr=True)
Edge = Callable[[Callable[..., Any]], Callable[..., Any]]
WORKER = f"cli:{socket.gethostname()}:{os.getpid()}"


def _when(ts: float | None) -> str:
    return "-" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def add_cmd(
    url: str,
    source: Annotated[str | None, typer.Option(help="Outlet name for its articles (default: feed title).")] = None,
    every: Annotated[str | None, typer.Option(help="Poll interval: 15m, 1h, 1h30m ... (default 30m).")] = None,
    poll: Annotated[bool, typer.Option("--poll", help="Poll it once now.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Follow a feed; `newsdesk serve` polls it in the background."""
    from service.api.feeds import to_feed_out
    from service.feeds.manage import add_feed

    feed = add_feed(get_settings(), url, source=source, every=every)
    if as_json and not poll:
        out.print_json(to_feed_out(feed).model_dump_json())
        return
    out.print(f"following {feed['url']} as [bold]{feed['id']}[/], every {to_feed_out(feed).every}")
    if poll:
        poll_cmd([feed["id"]], as_json=as_json)


def list_cmd(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The followed feeds and their last status."""
    from service.api.feeds import to_feed_out
    from service.feeds.manage import list_feeds

    feeds = [to_feed_out(f) for f in list_feeds(get_settings())]
    if as_json:
        out.print_json(json.dumps({"items": [f.model_dump() for f in feeds]}))
        return
    if not feeds:
        out.print("no feeds; add one with `newsdesk feeds add URL`")
    for f in feeds:
        status = f"[red]error[/] {f.last_error}" if f.consecutive_failures else "ok" if f.last_success_at else "new"
        out.print(f"[bold]{f.id}[/] {f.url}  [dim]{f.source or f.title or ''}[/]")
        out.print(f"    every {f.every} · {f.entries_seen} entries · {f.articles} articles · last poll "
                  f"{f.last_polled_at or '-'} · next {f.next_poll_at} · {status}", markup=True)


def remove_cmd(feed: Annotated[str, typer.Argument(help="Feed id or URL.")]) -> None:
    """Stop following a feed (its articles stay)."""
    from service.feeds.manage import find_feed, remove_feed

    settings = get_settings()
    found = find_feed(settings, feed)
    remove_feed(settings, found["id"])
    out.print(f"removed {found['id']} ({found['url']}); its articles stay")


def poll_cmd(
    feeds: Annotated[list[str] | None, typer.Argument(help="Feed ids or URLs; default: every feed.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Poll feeds now and say what each poll did."""
    from service.api.feeds import to_poll_out
    from service.feeds.manage import find_feed, list_feeds
    from service.feeds.poll import poll_feed
    from service.runtime import build_services

    settings = get_settings()
    ids = [find_feed(settings, f)["id"] for f in feeds] if feeds else [f["id"] for f in list_feeds(settings)]
    if not ids:
        err.print("no feeds to poll; add one with `newsdesk feeds add URL`")
        raise typer.Exit(1)
    svc = build_services(settings)
    reports = []
    try:
        for feed_id in ids:
            report = poll_feed(svc, feed_id, worker=WORKER)
            assert report is not None
            reports.append(report)
    finally:
        svc.close()
    if as_json:
        out.print_json(json.dumps({"results": [to_poll_out(r).model_dump() for r in reports]}))
    for r in reports:
        if as_json:
            break
        if r.status == "error":
            out.print(f"[bold]{r.feed_id}[/] [red]error[/] ({r.error_kind}): {r.error}; "
                      f"next try {_when(r.next_poll_at)}")
            continue
        if r.status == "not-modified":
            out.print(f"[bold]{r.feed_id}[/] not modified (HTTP {r.http_status}); nothing written")
            continue
        out.print(f"[bold]{r.feed_id}[/] {r.entries} entries: {r.new} new, {r.changed} changed, {r.seen} seen · "
                  f"created {r.created}, updated {r.updated}, unchanged {r.unchanged}, failed {r.failed}, "
                  f"copies linked {r.copies} · {r.timings.get('total_ms', 0) / 1000:.1f} s")
        for item in r.items:
            if item.error:
                out.print(f"  [red]failed[/] {item.url or item.key}: {item.error}", markup=True)
            elif item.warnings and item.status != "seen":
                out.print(f"  [yellow]{item.status}[/] {item.url or item.key} ({item.text_from}): "
                          f"{'; '.join(item.warnings)}")
    if any(r.status == "error" for r in reports):
        raise typer.Exit(1)


def register(app: typer.Typer, edge: Edge) -> None:
    """Add the feed commands to ``app``, each behind the CLI's domain-error ``edge``."""
    app.command("add")(edge(add_cmd))
    app.command("list")(edge(list_cmd))
    app.command("remove")(edge(remove_cmd))
    app.command("poll")(edge(poll_cmd))
