"""The ingest writer lock, one contract on both engines: held by another process, it keeps this one
waiting until that process releases it or is killed with SIGKILL."""

from __future__ import annotations

import signal
import threading

import pytest

from service.config import Settings
from service.store.engine import writer_lock
from service.store.writelock import ExclusiveLock
from tests.pg.child import child

HOLDER = """
    from service.store.engine import writer_lock
    with writer_lock(settings):
        print("held", flush=True)
        sys.stdin.readline()
    print("released", flush=True)
    sys.stdin.readline()
"""


@pytest.mark.parametrize("end", ["release", "sigkill"])
def test_a_lock_held_by_another_process_waits_for_its_release_or_its_death(engine_settings: Settings,
                                                                            end: str) -> None:
    holder = child(engine_settings, HOLDER)
    acquired, leave = threading.Event(), threading.Event()

    def write() -> None:
        with writer_lock(engine_settings):
            acquired.set()
            leave.wait(30)

    try:
        assert holder.stdout is not None and holder.stdin is not None
        assert holder.stdout.readline().strip() == "held"
        waiter = threading.Thread(target=write, daemon=True)
        waiter.start()
        assert not acquired.wait(1.0), "took the lock while another process held it"
        if end == "release":
            holder.stdin.write("\n")
            holder.stdin.flush()
            assert holder.stdout.readline().strip() == "released"
        else:
            holder.send_signal(signal.SIGKILL)
            assert holder.wait(10) == -signal.SIGKILL
        assert acquired.wait(20), "the lock was not freed"
        leave.set()
        waiter.join(20)
    finally:
        leave.set()
        holder.kill()
        holder.wait(10)


def test_two_locks_in_one_process_exclude_each_other(engine_settings: Settings) -> None:
    """Two stores in one process (two lock objects: two sessions, or two open files) exclude each
    other too, and one lock object serialises its own threads."""
    first, second = writer_lock(engine_settings), writer_lock(engine_settings)
    for holder, waiter in ((first, second), (first, first)):
        got = threading.Event()

        def take(lock: ExclusiveLock = waiter, got: threading.Event = got) -> None:
            with lock:
                got.set()

        with holder:
            thread = threading.Thread(target=take, daemon=True)
            thread.start()
            assert not got.wait(0.5), "both held the lock at once"
        assert got.wait(20)
        thread.join(20)
    assert not first.locked() and not second.locked()
