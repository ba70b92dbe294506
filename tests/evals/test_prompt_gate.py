"""A prompt change runs its evals: the gate finds prompts whose file changed since the committed
baseline, runs only those, fails on a planted regression and writes a PR-comment report."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from evals.prompt_gate import changed_prompts, markdown, real_model_suites, run_changed
from evals.runner import RunOptions, run_suite
from evals.runs import RunDir
from evals.suite import Suite, load_suite
from service.config import REPO_ROOT
from service.prompts import file_hash

SMOKE = load_suite("smoke@2")


@pytest.fixture
def prompts_root(tmp_path: Path) -> Path:
    root = tmp_path / "prompts"
    shutil.copytree(REPO_ROOT / "prompts", root)
    return root


def run_smoke(tmp_path: Path, prompts: list[str], model: str = "fake") -> RunDir:
    opts = RunOptions(SMOKE, prompts, [model], None, None, tmp_path / "results", tmp_path / "work", resume=False)
    return run_suite(opts).run


def baseline_dir(tmp_path: Path, run: RunDir, hashes: dict[str, str]) -> Path:
    """A committed-baseline folder (summary.json with prompt hashes, results.jsonl) for smoke@2."""
    folder = tmp_path / "baselines" / SMOKE.slug
    folder.mkdir(parents=True)
    shutil.copy(run.path / "results.jsonl", folder / "results.jsonl")
    summary = json.loads((run.path / "summary.json").read_text())
    (folder / "summary.json").write_text(json.dumps({**summary, "prompt_hashes": hashes}))
    return folder.parent


def test_runs_record_the_hash_of_every_prompt_file(tmp_path: Path) -> None:
    run = run_smoke(tmp_path, ["answer@v3"])
    summary = json.loads((run.path / "summary.json").read_text())
    assert summary["prompt_hashes"] == {"answer@v3": file_hash("answer@v3")}


def test_nothing_changed_runs_nothing(tmp_path: Path, prompts_root: Path) -> None:
    base = run_smoke(tmp_path, SMOKE.compare.prompts)
    baselines = baseline_dir(tmp_path, base, {p: file_hash(p, prompts_root) for p in SMOKE.compare.prompts})
    assert changed_prompts([SMOKE], baselines, prompts_root) == []
    assert "nothing to run" in markdown([])


def test_a_changed_prompt_is_found_run_and_gated(tmp_path: Path, prompts_root: Path) -> None:
    base = run_smoke(tmp_path, SMOKE.compare.prompts)
    baselines = baseline_dir(tmp_path, base, {p: file_hash(p, prompts_root) for p in SMOKE.compare.prompts})
    edited = prompts_root / "answer" / "v2.yaml"
    edited.write_text(edited.read_text() + "\n# a prompt engineer's edit\n")

    changes = changed_prompts([SMOKE], baselines, prompts_root)
    assert [(c.suite.id, c.changed) for c in changes] == [("smoke@2", ["answer@v2"])]

    ran: list[tuple[str, list[str]]] = []

    def runner(suite: Suite, prompts: list[str], data: Path | None, limit: int | None) -> RunDir:
        ran.append((suite.id, prompts))
        return run_smoke(tmp_path / "candidate", prompts)

    results, report = run_changed(changes, runner)
    assert ran == [("smoke@2", ["answer@v2"])]  # only the changed prompt is re-run
    assert all(c.ok for _, _, checks in results for c in checks)
    assert "smoke@2: answer@v2" in report and "passed" in report


def test_a_regression_from_a_changed_prompt_fails_the_gate(tmp_path: Path, prompts_root: Path) -> None:
    from service.llm.fake import FakeBackend
    from service.llm.registry import register, unregister

    base = run_smoke(tmp_path, ["answer@v2"])
    baselines = baseline_dir(tmp_path, base, {"answer@v2": "an older file"})
    suite = SMOKE.model_copy(update={"compare": SMOKE.compare.model_copy(update={"prompts": ["answer@v2"]})})
    register("fake-worse")(lambda settings, model: FakeBackend(["INSUFFICIENT"] * 100, model="fake-1"))
    try:
        changes = changed_prompts([suite], baselines, prompts_root)
        assert [c.changed for c in changes] == [["answer@v2"]]

        def runner(s: Suite, prompts: list[str], data: Path | None, limit: int | None) -> RunDir:
            run = run_smoke(tmp_path / "worse", prompts, model="fake-worse")
            rows = [{**r, "variant": "answer@v2 | fake"} for r in run.rows()]  # same label as the baseline
            (run.path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
            return run

        results, report = run_changed(changes, runner)
    finally:
        unregister("fake-worse")
    failed = [c for _, _, checks in results for c in checks if not c.ok]
    assert failed and any(c.metric == "answer_contains" for c in failed)
    assert "FAILED" in report and "❌" in report


def test_only_real_model_suites_are_gated_on_prompt_changes() -> None:
    ids = {s.id for s in real_model_suites()}
    assert "smoke@2" not in ids and {"tricky@2", "hotpotqa-cite@2", "realtimeqa@2"} <= ids
