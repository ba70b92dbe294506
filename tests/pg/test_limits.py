"""Rate limits, one contract on both engines: GCRA's arithmetic with a given clock, and a burst
split across two limiters (two pools), several threads each and a second process, counted as one."""

from __future__ import annotations

import threading
from contextlib import closing

import pytest

from service.config import Settings
from service.store.engine import open_limiter
from service.store.limits import Limiter
from tests.pg.child import child


def test_gcra_allows_the_burst_then_one_per_interval(engine_settings: Settings) -> None:
    with closing(open_limiter(engine_settings)) as lim, closing(open_limiter(engine_settings)) as other:
        rate = (3, 60.0)
        t = 1000.0
        assert [lim.hit("b", "k", rate, now=t) for _ in range(2)] == [None, None]
        assert other.hit("b", "k", rate, now=t) is None  # the third of three, counted by "another node"
        assert lim.hit("b", "k", rate, now=t) == pytest.approx(20.0)
        assert other.hit("b", "k", rate, now=t + 10) == pytest.approx(10.0)  # refusals do not consume
        assert lim.hit("b", "k", rate, now=t + 20.01) is None
        assert other.hit("b", "k", rate, now=t + 20.02) == pytest.approx(19.98)
        assert lim.hit("b", "other-key", rate, now=t) is None  # keys are separate
        assert lim.hit("model", "k", rate, now=t) is None  # buckets are separate
        # rows whose allowance is full again go; the busy one stays
        assert lim.prune(now=t + 30) == 2
        assert other.prune(now=t + 30) == 0
        assert lim.hit("b", "k", rate, now=t + 30) == pytest.approx(10.0)


def test_a_burst_split_across_limiters_threads_and_a_process_is_limited_as_one(engine_settings: Settings) -> None:
    """25 per hour (one more every 144 s, so none refills during the test) against 200 hits at once:
    2 limiters x 4 threads x 20 hits here, and 40 from another process; exactly 25 pass."""
    allowed_n, rate = 25, (25, 3600.0)
    other = child(engine_settings, """
        from service.store.engine import open_limiter
        lim = open_limiter(settings)
        print("ready", flush=True)
        sys.stdin.readline()
        waits = [lim.hit("burst", "key:shared", (25, 3600.0)) for _ in range(40)]
        print(sum(w is None for w in waits), all(w is None or w > 0 for w in waits), flush=True)
        lim.close()
    """)
    try:
        assert other.stdout is not None and other.stdin is not None
        assert other.stdout.readline().strip() == "ready"
        limiters = [open_limiter(engine_settings) for _ in range(2)]
        start = threading.Barrier(9)
        waits: list[float | None] = []
        lock = threading.Lock()

        def burst(lim: Limiter) -> None:
            start.wait()
            got = [lim.hit("burst", "key:shared", rate) for _ in range(20)]
            with lock:
                waits.extend(got)

        threads = [threading.Thread(target=burst, args=(lim,)) for lim in limiters for _ in range(4)]
        for t in threads:
            t.start()
        other.stdin.write("go\n")
        other.stdin.flush()
        start.wait()
        for t in threads:
            t.join(120)
        theirs, positive = other.stdout.readline().split()
        assert other.wait(60) == 0
        for lim in limiters:
            lim.close()
    finally:
        other.kill()
    assert len(waits) == 160
    assert sum(w is None for w in waits) + int(theirs) == allowed_n
    # a refusal's wait is about one interval: more by however long the hit queued for the row,
    # since its clock is read before that
    assert positive == "True" and all(w is None or 0 < w < 2 * 144.0 for w in waits)
