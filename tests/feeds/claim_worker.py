"""Run in a spawned process: poll a feed URL whenever this worker holds the feed's claim.

Imports only the feed store and the standard library, so spawning is cheap.
"""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path
from typing import Any

from service.store.feeds import FeedStore


def race(path: str, feed_id: str, url: str, worker: str, rounds: int, start: Any, out: Any) -> None:
    """Put (polls made, claims refused) over ``rounds`` attempts on ``out``; every worker waits at
    the ``start`` barrier, so they really race."""
    store = FeedStore(Path(path))
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
    start.wait(60)
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
    out.put((polled, refused))
