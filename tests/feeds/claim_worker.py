"""Run in a spawned process: poll a feed URL whenever this worker holds the feed's claim.

Imports only the feed store and the standard library, so spawning is cheap.
"""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path

from service.store.feeds import FeedStore


def race(path: str, feed_id: str, url: str, worker: str, rounds: int, start_at: float) -> tuple[int, int]:
    """(polls made, claims refused) over ``rounds`` attempts, all workers starting together."""
    store = FeedStore(Path(path))
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
    time.sleep(max(0.0, start_at - time.time()))
    polled = refused = 0
    for _ in range(rounds):
        if store.claim(feed_id, worker, now=time.time(), stale_after_s=300):
            try:
                with opener.open(url, timeout=10) as resp:  # loopback only: the test's server
                    resp.read()
                polled += 1
            finally:
                store.release(feed_id, worker)
        else:
            refused += 1
        time.sleep(0.01)
    return polled, refused
