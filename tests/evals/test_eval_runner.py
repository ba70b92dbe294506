"""The eval CLI end to end on the fake backend: two prompt versions -> a report; re-runs hit the
cache; an interrupted run resumes; a planted regression fails the gate; two runs compare."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evals.gate import gate
from evals.runner import local_model_installed
from evals.runs import RunDir, latest_run
from evals.suite import load_suite
from service.cli import app
from service.config import Settings
from service.errors import UpstreamUnavailable
from service.llm.fake import FakeBackend
from service.llm.registry import register, unregister

SLUG = "smoke-v2"


@pytest.fixture(scope="module")
def dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("evals")
    return base / "results", base / "work"


@pytest.fixture(scope="module")
def planted() -> Iterator[FakeBackend]:
    """'fake-wrong' always says INSUFFICIENT; 'fake-flaky' fails its second call once."""
    flaky = FakeBackend(model="flaky-1", errors=[None, UpstreamUnavailable("planted outage")])
    register("fake-wrong")(lambda settings, model: FakeBackend(["INSUFFICIENT"] * 100, model="wrong-1"))
    register("fake-flaky")(lambda settings, model: flaky)
    yield flaky
    unregister("fake-wrong")
    unregister("fake-flaky")


def eval_cli(dirs: tuple[Path, Path], *args: str, work: bool = True) -> str:
    results, work_dir = dirs
    extra = ["--results-dir", str(results)] + (["--work-dir", str(work_dir)] if work else [])
    res = CliRunner().invoke(app, ["eval", *args, *extra])
    assert res.exit_code == 0, res.output
    return res.output


@pytest.fixture(scope="module")
def first_run(dirs: tuple[Path, Path]) -> RunDir:
    eval_cli(dirs, "run", "smoke@2")
    run = latest_run(dirs[0], SLUG)
    assert run is not None
    return run


def test_two_prompt_versions_produce_results_summary_and_report(first_run: RunDir) -> None:
    rows = first_run.rows()
    assert len(rows) == 12 and not [r for r in rows if r["error"]]
    assert {r["variant"] for r in rows} == {"answer@v2 | fake", "answer@v3 | fake"}
    summary = json.loads((first_run.path / "summary.json").read_text())
    (pair,) = summary["comparison"]["pairs"]
    assert pair["a"] == "answer@v2 | fake" and "answer_contains" in pair["diffs"]
    est = summary["comparison"]["estimates"]["answer@v3 | fake"]["abstention_correct"]
    assert est["n"] == 6 and est["low"] <= est["value"] <= est["high"]
    html = (first_run.path / "report.html").read_text()
    assert 'class="metrics"' in html and "<svg" in html and 'id="changed"' in html
    folds = summary["folds"]  # every summary reports the tuning and the check fold side by side
    assert folds["tune"]["cases"] + folds["check"]["cases"] == 6 and min(f["cases"] for f in folds.values()) > 0
    tune = folds["tune"]["estimates"]["answer@v3 | fake"]["abstention_correct"]
    assert tune["n"] == folds["tune"]["cases"] and tune["low"] <= tune["value"] <= tune["high"]
    assert 'id="folds"' in html and 'class="folds"' in html
    answered = next(r for r in rows if r["case_id"] == "two-articles-plant-jobs")
    assert answered["citations"] and answered["prompt_ref"] == answered["prompt"]
    assert all(c["quote"] for c in answered["citations"])


def test_rerun_hits_the_cache_for_every_model_call(dirs: tuple[Path, Path], first_run: RunDir) -> None:
    out = eval_cli(dirs, "run", "smoke@2", "--new", "--limit", "4")
    second = latest_run(dirs[0], SLUG)
    assert second is not None and second.path != first_run.path
    cache = json.loads((second.path / "summary.json").read_text())["cache"]
    assert cache["misses"] == 0 and cache["hits"] > 0
    assert f"cache hits {cache['hits']}, misses 0" in " ".join(out.split())
    assert all(r["cached"] in (True, None) for r in second.rows())


def test_interrupted_run_resumes_and_only_retries_the_failed_case(dirs: tuple[Path, Path],
                                                                    planted: FakeBackend) -> None:
    eval_cli(dirs, "run", "smoke@2", "--prompt", "answer@v1", "--model", "fake-flaky", "--limit", "3")
    run = latest_run(dirs[0], SLUG)
    assert run is not None and not run.meta()["complete"]
    assert sum(1 for r in run.rows() if r["error"]) == 1
    calls_before = len(planted.calls)
    out = eval_cli(dirs, "run", "smoke@2", "--prompt", "answer@v1", "--model", "fake-flaky", "--limit", "3")
    assert latest_run(dirs[0], SLUG) == run and run.meta()["complete"]
    assert "skipped 2 done" in " ".join(out.split())
    assert len(planted.calls) - calls_before == 1
    assert not [r for r in run.rows() if r["error"]]


def test_gate_passes_on_the_baseline_and_fails_on_a_planted_regression(
        dirs: tuple[Path, Path], first_run: RunDir, planted: FakeBackend) -> None:
    eval_cli(dirs, "gate", "smoke@2", "--run", str(first_run.path), "--baseline", str(first_run.path), work=False)
    results, work = dirs
    res = CliRunner().invoke(app, ["eval", "gate", "smoke@2", "--baseline", str(first_run.path),
                                   "--model", "fake-wrong", "--prompt", "answer@v2", "--limit", "6",
                                   "--results-dir", str(results), "--work-dir", str(work)])
    assert res.exit_code == 1, res.output
    bad = latest_run(results, SLUG)
    assert bad is not None
    checks = gate(load_suite("smoke@2"), bad.rows(), first_run.rows())
    failed = {(c.kind, c.metric) for c in checks if not c.ok}
    assert ("threshold", "abstention_correct") in failed
    assert ("regression", "abstention_correct") in failed


def test_compare_two_stored_runs(dirs: tuple[Path, Path], first_run: RunDir, tmp_path: Path) -> None:
    runs = sorted(p for p in (dirs[0] / SLUG).iterdir() if p.is_dir())
    eval_cli(dirs, "compare", str(runs[0]), str(runs[1]), "--out", str(tmp_path / "cmp"), work=False)
    summary = json.loads((tmp_path / "cmp" / "summary.json").read_text())
    assert [(p["a"], p["b"]) for p in summary["comparison"]["pairs"]] == [
        ("A: answer@v2 | fake", "B: answer@v2 | fake"), ("A: answer@v3 | fake", "B: answer@v3 | fake")]
    assert (tmp_path / "cmp" / "report.html").exists()


@pytest.mark.slow
@pytest.mark.skipif(not local_model_installed(Settings()), reason="the local model is not installed")
def test_smoke_suite_on_the_local_model(dirs: tuple[Path, Path]) -> None:
    out = eval_cli(dirs, "gate", "smoke-local@2")
    assert "gate passed" in out
