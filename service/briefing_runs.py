"""Where a day's briefing stands, and the briefings of the seeded days built in the background.

``newsdesk serve --seed`` ingests ``seeds/`` and then calls :func:`start_seed_briefings`: one
daemon thread builds, oldest day first, the briefing of every day the seeds cover that has no
stored briefing yet.  The server answers at once; the local model takes about 10-60 s per story
on 2 cores, so until the build is done the briefing page shows the day's articles and says that
the briefing is being written (:func:`briefing_status`), then shows the briefing by itself.

Each build is claimed in the briefing store (the same claim as the daily schedule), so however
many workers start, one builds a day; a failed build is retried at the next start.  A briefing
that is already stored is never rebuilt here (``newsdesk briefing --date D --rebuild`` does).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from service.errors import NewsdeskError
from service.generation.briefing import BriefingParams, briefing_store, build_briefing, day_window, zone
from service.generation.schedule import STALE_AFTER_S
from service.runtime import Services
from service.store.briefings import scope_key
from service.store.catalog import Filters

log = logging.getLogger(__name__)
Builder = Callable[[Services, BriefingParams], Any]


@dataclass(frozen=True, slots=True)
class BriefingStatus:
    date: str
    timezone: str
    state: str
    """ready (stored) | building | failed | missing (no briefing, no build under way)."""
    articles: int
    """Articles published on the day (in ``timezone``), from the given sources if any."""
    started_at: float | None = None
    finished_at: float | None = None
    error: str | None = None


def briefing_status(services: Services, day: date, timezone: str, sources: Sequence[str] = (),
                    *, now: float | None = None) -> BriefingStatus:
    since, until = day_window(day, timezone)
    _, articles = services.catalog.list_articles(Filters(tuple(sources), since=since, until=until), limit=1, offset=0)
    store = briefing_store(services)
    key, scope = day.isoformat(), scope_key(timezone, tuple(sources))
    if store.get(key, scope) is not None:
        return BriefingStatus(key, timezone, "ready", articles)
    run = store.run(key, scope)
    if run is None or run["state"] == "done":
        return BriefingStatus(key, timezone, "missing", articles)
    stale = run["claimed_at"] < (time.time() if now is None else now) - STALE_AFTER_S
    state = "failed" if run["state"] == "failed" else ("missing" if stale else "building")
    return BriefingStatus(key, timezone, state, articles, run["claimed_at"], run["finished_at"], run["error"])


def days_with_articles(services: Services, timezone: str) -> list[tuple[date, int, bool]]:
    """(day, articles, briefing stored) for every day (in ``timezone``) with articles, newest first."""
    tz = zone(timezone)
    counts: Counter[date] = Counter()
    for t, n in services.catalog.publication_times():
        counts[datetime.fromtimestamp(t, tz).date()] += n
    stored = set(briefing_store(services).dates(scope_key(timezone, ())))
    return [(d, counts[d], d.isoformat() in stored) for d in sorted(counts, reverse=True)]


def article_days(services: Services, article_ids: Sequence[str], timezone: str) -> list[date]:
    """The days (in ``timezone``) on which these articles were published, oldest first."""
    if not article_ids:
        return []
    rows, _ = services.catalog.list_articles(Filters(article_ids=tuple(article_ids)), limit=len(article_ids),
                                             offset=0)
    tz = zone(timezone)
    return sorted({datetime.fromisoformat(r["published_iso"]).astimezone(tz).date()
                   for r in rows if r["published_iso"]})


def build_missing(services: Services, days: Sequence[date], *, worker: str,
                  build: Builder = build_briefing) -> list[date]:
    """Build the briefing of each day that has none and that no other worker is building.

    Returns the days this call built.  A domain error (or any other) is recorded on the day's
    run and logged; the next days are still built.
    """
    tz = services.settings.briefing_timezone
    store = briefing_store(services)
    built: list[date] = []
    for day in days:
        params = BriefingParams(day, tz)
        key = day.isoformat()
        if store.get(key, params.scope) is not None:
            continue
        if not store.claim_run(key, params.scope, worker, now=time.time(), stale_after_s=STALE_AFTER_S,
                               retry_failed=True):
            continue
        t0 = time.perf_counter()
        try:
            build(services, params)
        except NewsdeskError as exc:
            log.warning("seed briefing %s failed: %s", key, exc.detail)
            store.finish_run(key, params.scope, now=time.time(), error=exc.detail)
            continue
        except Exception as exc:  # a background thread: record it on the run, log it, go on
            log.exception("seed briefing %s failed", key)
            store.finish_run(key, params.scope, now=time.time(), error=f"{type(exc).__name__}: {exc}")
            continue
        store.finish_run(key, params.scope, now=time.time())
        log.info("seed briefing %s built in %.1f s", key, time.perf_counter() - t0)
        built.append(day)
    return built


def start_day_briefings(services: Services, days: Sequence[date], *,
                        build: Builder = build_briefing) -> threading.Thread | None:
    """Build the missing briefings of ``days`` (the seeded days), in a daemon thread."""
    tz = services.settings.briefing_timezone
    store = briefing_store(services)
    days = [d for d in days if store.get(d.isoformat(), scope_key(tz, ())) is None]
    if not days:
        return None
    worker = f"seed:{socket.gethostname()}:{os.getpid()}"
    log.info("building the briefings of the seeded days in the background: %s",
             ", ".join(d.isoformat() for d in days))
    thread = threading.Thread(target=build_missing, args=(services, days), kwargs={"worker": worker, "build": build},
                              name="seed-briefings", daemon=True)
    thread.start()
    return thread


def start_seed_briefings(services: Services, article_ids: Sequence[str], *,
                         build: Builder = build_briefing) -> threading.Thread | None:
    """Build the missing briefings of the days these (seeded) articles cover, in a daemon thread."""
    return start_day_briefings(services, article_days(services, article_ids, services.settings.briefing_timezone),
                               build=build)
