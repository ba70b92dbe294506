"""The daily briefing schedule run by ``newsdesk serve`` (``NEWSDESK_BRIEFING_SCHEDULE=HH:MM``).

At HH:MM in ``briefing_timezone`` each worker wakes up and tries to claim the run of the day
that just ended; the claim is one atomic SQLite statement (see
:meth:`BriefingStore.claim_run`), so however many workers or processes start, one builds the
briefing and the others skip it.  A claim left unfinished by a crashed worker is taken over
after ``STALE_AFTER_S``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from service.errors import NewsdeskError
from service.generation.briefing import BriefingParams, briefing_store, build_briefing, zone
from service.runtime import Services

log = logging.getLogger(__name__)

STALE_AFTER_S = 3 * 3600.0
Builder = Callable[[Services, BriefingParams], Any]


def next_run(now: datetime, at: str) -> datetime:
    """The first HH:MM strictly after ``now`` (an aware datetime in the schedule's timezone)."""
    hh, mm = (int(x) for x in at.split(":"))
    candidate = now.replace(hour=hh, minute=mm, second=0, microsecond=0)
    return candidate if candidate > now else candidate + timedelta(days=1)


class BriefingScheduler:
    def __init__(self, services: Services, *, at: str, timezone: str, build: Builder = build_briefing,
                 worker: str | None = None) -> None:
        self.services = services
        self.at = at
        self.timezone = timezone
        self.build = build
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_for(self, day: date) -> bool:
        """Build ``day``'s briefing if this worker wins the claim; True when it did."""
        params = BriefingParams(day, self.timezone)
        store = briefing_store(self.services)
        key = day.isoformat()
        if not store.claim_run(key, params.scope, self.worker, now=time.time(), stale_after_s=STALE_AFTER_S):
            log.info("briefing %s already claimed by another worker", key)
            return False
        try:
            self.build(self.services, params)
        except NewsdeskError as exc:
            log.warning("scheduled briefing %s failed: %s", key, exc.detail)
            store.finish_run(key, params.scope, now=time.time(), error=exc.detail)
            return True
        store.finish_run(key, params.scope, now=time.time())
        log.info("scheduled briefing %s built by %s", key, self.worker)
        return True

    def _loop(self) -> None:
        tz = zone(self.timezone)
        while not self._stop.is_set():
            now = datetime.now(tz)
            wake = next_run(now, self.at)
            if self._stop.wait((wake - now).total_seconds()):
                return
            self.run_for(wake.date() - timedelta(days=1))

    def start(self) -> BriefingScheduler:
        self._thread = threading.Thread(target=self._loop, name="briefing-scheduler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def start_scheduler(services: Services) -> BriefingScheduler | None:
    """Start the daily schedule when ``briefing_schedule`` is set (FastAPI lifespan)."""
    at = services.settings.briefing_schedule
    if at is None:
        return None
    zone(services.settings.briefing_timezone)
    log.info("daily briefing scheduled at %s %s", at, services.settings.briefing_timezone)
    return BriefingScheduler(services, at=at, timezone=services.settings.briefing_timezone).start()
