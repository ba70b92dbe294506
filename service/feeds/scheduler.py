"""The background poller run by ``newsdesk serve`` (``NEWSDESK_FEED_POLL``, on by default).

Every worker runs one; each wakes up every ``feed_poll_tick_s`` (or sooner, when a feed falls
due), lists the due feeds and tries to claim each.  The claim (service/store/claims.py, as for
the daily briefing) lets exactly one worker poll a feed; the others skip it.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time

from service.errors import NewsdeskError
from service.feeds.poll import PollReport, poll_feed
from service.runtime import Services
from service.store.engine import open_feeds

log = logging.getLogger(__name__)


class FeedPoller:
    def __init__(self, services: Services, *, tick_s: float | None = None, worker: str | None = None) -> None:
        self.services = services
        self.tick_s = tick_s or services.settings.feed_poll_tick_s
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll_due(self, now: float | None = None) -> list[PollReport]:
        """Poll every due feed this worker can claim; the reports of those it polled."""
        now = time.time() if now is None else now
        done: list[PollReport] = []
        for feed_id in open_feeds(self.services.settings).due(now):
            if self._stop.is_set():
                break
            try:
                report = poll_feed(self.services, feed_id, worker=self.worker, now=now, only_if_due=True)
            except NewsdeskError as exc:  # e.g. removed while we looked: the others go on
                log.warning("feed %s: %s", feed_id, exc.detail)
                continue
            if report is not None:
                done.append(report)
        return done

    def _wait_s(self) -> float:
        due = open_feeds(self.services.settings).next_due_at()
        if due is None:
            return self.tick_s
        return min(self.tick_s, max(1.0, due - time.time()))

    def _loop(self) -> None:
        if self._stop.wait(1.0):  # let start-up finish first
            return
        while not self._stop.is_set():
            try:
                self.poll_due()
            except Exception:  # the loop outlives any one failure; it is logged with its traceback
                log.exception("feed poller round failed")
            if self._stop.wait(self._wait_s()):
                return

    def start(self) -> FeedPoller:
        self._thread = threading.Thread(target=self._loop, name="feed-poller", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def start_feed_poller(services: Services) -> FeedPoller | None:
    """Start background polling when ``feed_poll`` is set (FastAPI lifespan)."""
    if not services.settings.feed_poll:
        return None
    return FeedPoller(services).start()
