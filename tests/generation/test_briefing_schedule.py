"""The daily schedule: two workers racing for the same day produce exactly one run."""

from __future__ import annotations

import multiprocessing
import threading
import time
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from service.config import Settings
from service.generation.briefing import BriefingParams
from service.generation.schedule import BriefingScheduler, next_run
from service.runtime import Services
from service.store.briefings import BriefingStore, scope_key

DAY = date(2021, 5, 27)


def test_two_schedulers_racing_build_once(services: Services) -> None:
    builds: list[str] = []
    lock = threading.Lock()

    def slow_build(svc: Services, params: BriefingParams) -> None:
        time.sleep(0.3)  # long enough for the loser to try while the winner is building
        with lock:
            builds.append(params.day.isoformat())

    workers = [BriefingScheduler(services, at="06:00", timezone="UTC", build=slow_build, worker=f"w{i}")
               for i in range(2)]
    start = threading.Barrier(2)
    won: list[bool] = []

    def race(s: BriefingScheduler) -> None:
        start.wait()
        won.append(s.run_for(DAY))

    threads = [threading.Thread(target=race, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(won) == [False, True] and builds == ["2021-05-27"]
    runs = BriefingStore(services.settings.data_dir / "briefings.sqlite3").runs()
    assert [(r["date"], r["state"]) for r in runs] == [("2021-05-27", "done")]
    assert workers[0].run_for(DAY) is False and builds == ["2021-05-27"]  # a later start does not rebuild


def _claim(path: str, worker: str, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    store = BriefingStore(Path(path))
    out.put(store.claim_run("2021-05-27", scope_key("UTC", ()), worker, now=time.time(), stale_after_s=3600))


def test_claims_are_atomic_across_processes(tmp_path: Path) -> None:
    path = str(tmp_path / "briefings.sqlite3")
    BriefingStore(Path(path))
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_claim, args=(path, f"p{i}", out)) for i in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert sorted(out.get(timeout=5) for _ in procs) == [False, False, False, True]


def test_a_stale_claim_is_taken_over(tmp_path: Path) -> None:
    store = BriefingStore(tmp_path / "b.sqlite3")
    scope = scope_key("UTC", ())
    assert store.claim_run("d", scope, "a", now=1000.0, stale_after_s=60)
    assert not store.claim_run("d", scope, "b", now=1030.0, stale_after_s=60)
    assert store.claim_run("d", scope, "b", now=1100.0, stale_after_s=60)
    store.finish_run("d", scope, now=1101.0)
    assert not store.claim_run("d", scope, "c", now=99999.0, stale_after_s=60)


def test_next_run_and_the_day_it_builds() -> None:
    tz = ZoneInfo("Europe/Berlin")
    assert next_run(datetime(2021, 5, 28, 5, 0, tzinfo=tz), "06:30") == datetime(2021, 5, 28, 6, 30, tzinfo=tz)
    assert next_run(datetime(2021, 5, 28, 6, 30, tzinfo=tz), "06:30") == datetime(2021, 5, 29, 6, 30, tzinfo=tz)


def test_settings_reject_a_bad_schedule() -> None:
    import pydantic
    import pytest

    with pytest.raises(pydantic.ValidationError):
        Settings(briefing_schedule="25:00")


def test_the_app_runs_the_schedule_only_when_configured(settings: Settings, embedder: object) -> None:
    from fastapi.testclient import TestClient

    from service.main import create_app
    from service.runtime import build_services

    def running() -> bool:
        return any(t.name == "briefing-scheduler" and t.is_alive() for t in threading.enumerate())

    for schedule, expected in ((None, False), ("06:00", True)):
        cfg = settings.model_copy(update={"briefing_schedule": schedule})
        app = create_app(cfg, services_factory=lambda s: build_services(s, embedder=embedder))
        with TestClient(app):
            assert running() is expected
        assert not running()
