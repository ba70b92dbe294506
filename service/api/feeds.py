"""/v1/feeds: follow, list, read, stop following, and poll now."""

from __future__ import annotations

import os
import socket
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Response
from starlette.concurrency import run_in_threadpool

from service.deps import ServicesDep
from service.feeds.interval import format_interval
from service.feeds.manage import add_feed, get_feed, list_feeds, remove_feed
from service.feeds.poll import PollReport, poll_feed
from service.schemas_feeds import FeedIn, FeedList, FeedOut, PollOut

router = APIRouter(prefix="/v1/feeds", tags=["feeds"])
WORKER = f"api:{socket.gethostname()}:{os.getpid()}"


def iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def to_feed_out(row: dict[str, Any]) -> FeedOut:
    times = {k: iso(row[k]) for k in ("created_at", "next_poll_at", "last_polled_at", "last_success_at",
                                      "last_error_at")}
    return FeedOut(**{**{k: row[k] for k in FeedOut.model_fields if k in row}, **times},
                   every=format_interval(row["every_s"]), every_seconds=row["every_s"],
                   consecutive_failures=row["failures"])


def to_poll_out(report: PollReport) -> PollOut:
    times = {"polled_at": iso(report.polled_at), "next_poll_at": iso(report.next_poll_at)}
    return PollOut.model_validate({**asdict(report), **times})


@router.post("", response_model=FeedOut, status_code=201)
def create_feed(req: FeedIn, services: ServicesDep) -> FeedOut:
    """Follow a feed. It is polled by `serve`'s background poller, or now with POST /v1/feeds/{id}/poll."""
    return to_feed_out(add_feed(services.settings, req.url, source=req.source, every=req.every))


@router.get("", response_model=FeedList)
def read_feeds(services: ServicesDep) -> FeedList:
    return FeedList(items=[to_feed_out(r) for r in list_feeds(services.settings)])


@router.get("/{feed_id}", response_model=FeedOut)
def read_feed(feed_id: str, services: ServicesDep) -> FeedOut:
    return to_feed_out(get_feed(services.settings, feed_id))


@router.delete("/{feed_id}", status_code=204)
def delete_feed(feed_id: str, services: ServicesDep) -> Response:
    """Stop following a feed; the articles it brought in stay."""
    remove_feed(services.settings, feed_id)
    return Response(status_code=204)


@router.post("/{feed_id}/poll", response_model=PollOut)
async def poll_now(feed_id: str, services: ServicesDep) -> PollOut:
    """Poll now and say what happened: entries new, changed and seen; articles created, updated,
    unchanged and failed (each with its reason); a failed fetch is ``status: error`` with its backoff."""
    report = await run_in_threadpool(poll_feed, services, feed_id, worker=WORKER)
    assert report is not None  # only scheduled polls (only_if_due) return None
    return to_poll_out(report)
