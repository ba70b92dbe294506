"""Pollers racing round after round: every feed made due again, then all pollers started at once."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence

from service.feeds.poll import PollReport
from service.feeds.scheduler import FeedPoller


def poll_side_by_side(pollers: Sequence[FeedPoller], feed_ids: Sequence[str], make_due: Callable[[str], None],
                      rounds: int) -> tuple[Counter[tuple[int, str]], Counter[str]]:
    """Per round, ``make_due`` each feed, then run every poller's ``poll_due`` in its own thread
    behind one barrier.  Returns how often each (round, feed) was polled, and polls per worker."""
    polled: Counter[tuple[int, str]] = Counter()
    by_worker: Counter[str] = Counter()
    lock = threading.Lock()
    for rnd in range(rounds):
        for fid in feed_ids:
            make_due(fid)
        start = threading.Barrier(len(pollers))

        def run(p: FeedPoller, rnd: int = rnd, start: threading.Barrier = start) -> None:
            start.wait()
            reports: list[PollReport] = p.poll_due(now=time.time())
            with lock:
                polled.update((rnd, r.feed_id) for r in reports)
                by_worker.update(r.worker for r in reports)

        threads = [threading.Thread(target=run, args=(p,)) for p in pollers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    return polled, by_worker
