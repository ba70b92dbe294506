"""Claims on both engines: of threads on two stores (PostgreSQL: two pools, as two nodes have) and a
second process, all racing for one key, exactly one wins, whether the key is new or its claim is
stale; finish keeps the claim as history and final, release deletes it."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from service.config import Settings
from service.store.briefings import Briefings
from service.store.feeds import Feeds
from tests.pg.child import child
from tests.pg.stores import two_briefings, two_feeds

THREADS = 8
DAY, SCOPE = "2024-03-05", "tz=UTC;sources="


def _claim(store: Any, worker: str, now: float, stale_after_s: float = 3600.0) -> bool:
    if isinstance(store, Feeds):
        return store.claim("f1", worker, now=now, stale_after_s=stale_after_s)
    return store.claim_run(DAY, SCOPE, worker, now=now, stale_after_s=stale_after_s)


def _holder(store: Feeds | Briefings) -> str | None:
    if isinstance(store, Feeds):
        return _feed_holder(store)
    run = store.run(DAY, SCOPE)
    return run["worker"] if run else None


def _feed_holder(store: Feeds) -> str | None:
    with store._tx() as db:  # the claim row itself: the feed need not exist for the race
        row = db.execute("SELECT worker FROM feed_claims WHERE feed_id=?", ("f1",)).fetchone()
    return row["worker"] if row else None


_CHILD = """
import time
from service.store.engine import open_briefings, open_feeds
kind = sys.argv[1]
store = open_feeds(settings) if kind == "feeds" else open_briefings(settings)
print("ready", flush=True)
sys.stdin.readline()
now = time.time()
won = (store.claim("f1", "child", now=now, stale_after_s=3600.0) if kind == "feeds"
       else store.claim_run("2024-03-05", "tz=UTC;sources=", "child", now=now, stale_after_s=3600.0))
print("won" if won else "lost", flush=True)
"""


@pytest.mark.parametrize("kind", ["feeds", "briefings"])
@pytest.mark.parametrize("start", ["new key", "stale claim"])
def test_one_of_many_racers_on_two_stores_and_another_process_wins(engine_settings: Settings, kind: str,
                                                                   start: str) -> None:
    opener = two_feeds if kind == "feeds" else two_briefings
    with opener(engine_settings) as (a, b):
        if start == "stale claim":
            assert _claim(a, "crashed", now=time.time() - 7200)  # two hours old, never finished
        proc = child(engine_settings, _CHILD.replace("sys.argv[1]", repr(kind)))
        try:
            assert proc.stdout is not None and proc.stdin is not None
            assert proc.stdout.readline().strip() == "ready"
            barrier = threading.Barrier(THREADS + 1)
            won: list[str] = []
            lock = threading.Lock()

            def race(i: int) -> None:
                barrier.wait()
                if _claim(a if i % 2 else b, f"t{i}", now=time.time()):
                    with lock:
                        won.append(f"t{i}")

            threads = [threading.Thread(target=race, args=(i,)) for i in range(THREADS)]
            for t in threads:
                t.start()
            barrier.wait()
            proc.stdin.write("go\n")
            proc.stdin.flush()
            for t in threads:
                t.join(60)
            if proc.stdout.readline().strip() == "won":
                won.append("child")
            assert proc.wait(60) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
        assert len(won) == 1, won
        assert _holder(a) == _holder(b) == won[0]


def test_finish_keeps_the_claim_and_makes_it_final(engine_settings: Settings) -> None:
    with two_briefings(engine_settings) as (a, b):
        assert a.claim_run(DAY, SCOPE, "w1", now=100.0, stale_after_s=60)
        assert not b.claim_run(DAY, SCOPE, "w2", now=150.0, stale_after_s=60)  # held, and fresh
        a.finish_run(DAY, SCOPE, now=160.0)
        assert not b.claim_run(DAY, SCOPE, "w2", now=1e9, stale_after_s=60, retry_failed=True)  # never again
        run = b.run(DAY, SCOPE)
        assert run is not None and (run["worker"], run["state"], run["finished_at"]) == ("w1", "done", 160.0)


def test_release_deletes_the_claim_so_the_key_can_be_claimed_again(engine_settings: Settings) -> None:
    with two_feeds(engine_settings) as (a, b):
        assert a.claim("f1", "w1", now=100.0, stale_after_s=60)
        assert not b.claim("f1", "w2", now=150.0, stale_after_s=60)
        assert not b.renew("f1", "w2", now=155.0) and not b.release("f1", "w2")  # not w2's to renew or drop
        assert a.renew("f1", "w1", now=158.0)
        assert not b.claim("f1", "w2", now=200.0, stale_after_s=60)  # renewed at 158: not stale at 200
        assert b.claim("f1", "w2", now=219.0, stale_after_s=60)  # 61 s after the renewal: taken over
        assert not a.renew("f1", "w1", now=220.0) and not a.release("f1", "w1")  # w1 lost it
        assert _feed_holder(a) == "w2"
        assert b.release("f1", "w2")
        assert _feed_holder(a) is None
        assert a.claim("f1", "w3", now=221.0, stale_after_s=60)  # free again at once
