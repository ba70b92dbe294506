"""Briefing status and the background build of the seeded days (fake backend, real pipeline)."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import pytest

from service.briefing_runs import (
    article_days,
    briefing_status,
    build_missing,
    days_with_articles,
    start_seed_briefings,
)
from service.cli import gather, run_ingest
from service.config import REPO_ROOT
from service.errors import InvalidInput
from service.generation.briefing import BriefingParams, build_briefing
from service.runtime import Services
from service.store.briefings import BriefingStore, scope_key

SEED_DAY = date(2021, 7, 22)


def seed(services: Services) -> list[str]:
    outcomes = run_ingest(services, gather([str(REPO_ROOT / "seeds")]), show_progress=False)
    assert all(o.status in ("created", "unchanged") for o in outcomes), outcomes
    return [o.id for o in outcomes if o.id]


def test_failed_claim_is_retried_only_when_asked(tmp_path: Path) -> None:
    store = BriefingStore(tmp_path / "b.sqlite3")
    scope = scope_key("UTC", ())
    assert store.claim_run("d", scope, "a", now=1000.0, stale_after_s=3600)
    assert not store.claim_run("d", scope, "b", now=1001.0, stale_after_s=3600, retry_failed=True)  # running
    store.finish_run("d", scope, now=1002.0, error="boom")
    assert not store.claim_run("d", scope, "b", now=1003.0, stale_after_s=3600)
    assert store.claim_run("d", scope, "b", now=1003.0, stale_after_s=3600, retry_failed=True)
    assert store.run("d", scope)["state"] == "running" and store.run("d", scope)["error"] is None  # type: ignore[index]
    store.finish_run("d", scope, now=1004.0)
    assert not store.claim_run("d", scope, "c", now=1005.0, stale_after_s=0, retry_failed=True)  # done stays done


def test_seeded_days_and_their_briefings_are_built_in_the_background(services: Services) -> None:
    ids = seed(services)
    assert article_days(services, ids, "UTC") == [date(2021, 7, 22), date(2025, 4, 28)]
    assert briefing_status(services, SEED_DAY, "UTC").state == "missing"
    thread = start_seed_briefings(services, ids)
    assert thread is not None
    thread.join(120)
    status = briefing_status(services, SEED_DAY, "UTC")
    assert status.state == "ready" and status.articles == 12
    # the demo day: four stories, each told by three outlets
    from service.generation.briefing import get_briefing

    found = get_briefing(services, SEED_DAY, "UTC")
    assert len(found["stories"]) == 4
    assert all(len(s["sources"]) == 3 for s in found["stories"])
    assert {d: (n, stored) for d, n, stored in days_with_articles(services, "UTC")} == {
        date(2025, 4, 28): (1, True), date(2021, 7, 22): (12, True)}
    # a second start finds them stored and builds nothing
    assert build_missing(services, [SEED_DAY], worker="again") == []
    assert start_seed_briefings(services, ids) is None


def test_a_failed_build_is_recorded_and_retried_at_the_next_start(services: Services) -> None:
    seed(services)
    calls: list[date] = []

    def failing(svc: Services, params: BriefingParams) -> None:
        calls.append(params.day)
        raise InvalidInput.for_field("model", "no such model")

    assert build_missing(services, [SEED_DAY], worker="w1", build=failing) == []
    status = briefing_status(services, SEED_DAY, "UTC")
    assert status.state == "failed" and status.error and "no such model" in status.error
    assert build_missing(services, [SEED_DAY], worker="w2", build=build_briefing) == [SEED_DAY]
    assert calls == [SEED_DAY] and briefing_status(services, SEED_DAY, "UTC").state == "ready"


def test_a_build_under_way_is_reported_and_not_started_twice(services: Services) -> None:
    seed(services)
    store = BriefingStore(services.settings.data_dir / "briefings.sqlite3")
    assert store.claim_run(SEED_DAY.isoformat(), scope_key("UTC", ()), "other", now=time.time(), stale_after_s=60)
    status = briefing_status(services, SEED_DAY, "UTC")
    assert status.state == "building" and status.started_at is not None
    assert build_missing(services, [SEED_DAY], worker="me") == []
    # a claim older than the stale limit is no longer reported as building
    assert briefing_status(services, SEED_DAY, "UTC", now=time.time() + 4 * 3600).state == "missing"


def test_unknown_timezone_is_invalid(services: Services) -> None:
    with pytest.raises(InvalidInput):
        briefing_status(services, SEED_DAY, "Nowhere/City")
