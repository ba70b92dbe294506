"""A prompt change runs its evals: find the prompts whose file changed since their baseline,
run the real-model suites that use them, gate, and write a comparison for a pull request.

A suite's committed baseline (``evals/reports/<suite>/summary.json`` with its ``results.jsonl``)
records the sha256 of every prompt file it ran (``prompt_hashes``).  :func:`changed_prompts`
compares them with the files on disk; :func:`run_changed` re-runs each affected suite for the
changed prompt versions only -- with the baseline's data (dev sample or full set) and case
limit -- gates it against the suite's thresholds and the baseline (a significant drop fails,
:mod:`evals.gate`), and renders a short markdown report in the manner of promptfoo's PR comment.

``newsdesk eval gate --changed``; CI runs it after the tests (``.ci/run``).  With every prompt
unchanged it runs nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evals.gate import Check, gate
from evals.runs import RunDir, open_run
from evals.suite import Suite, list_suites
from service.config import REPO_ROOT
from service.prompts import PROMPTS_DIR, file_hash

BASELINES = REPO_ROOT / "evals" / "reports"
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@dataclass(slots=True)
class SuiteChange:
    suite: Suite
    baseline: Path | None
    changed: list[str]
    """Prompt refs of the suite whose file hash differs from the baseline's (or has no baseline)."""
    baseline_meta: dict[str, Any] = field(default_factory=dict)


def real_model_suites(root: Path | None = None) -> list[Suite]:
    """Suites that run a real model (the fake-backend ones run in the test suite every time)."""
    suites = list_suites() if root is None else list_suites(root)
    return [s for s in suites if any(m != "fake" for m in s.compare.models)]


def changed_prompts(suites: list[Suite], baselines: Path = BASELINES, prompts_root: Path = PROMPTS_DIR
                    ) -> list[SuiteChange]:
    out: list[SuiteChange] = []
    for suite in suites:
        folder = baselines / suite.slug
        summary_path = folder / "summary.json"
        recorded: dict[str, str] = {}
        meta: dict[str, Any] = {}
        if summary_path.is_file():
            meta = json.loads(summary_path.read_text(encoding="utf-8"))
            recorded = meta.get("prompt_hashes") or {}
        changed = [p for p in suite.compare.prompts if recorded.get(p) != file_hash(p, prompts_root)]
        if changed:
            out.append(SuiteChange(suite, folder if summary_path.is_file() else None, changed, meta))
    return out


Runner = Callable[[Suite, list[str], Path | None, int | None], RunDir]


def run_changed(changes: list[SuiteChange], runner: Runner, *, tolerance: float = 0.0,
                data_dir: Path | None = None) -> tuple[list[tuple[SuiteChange, RunDir, list[Check]]], str]:
    """Run and gate each changed suite; return the results and the markdown report."""
    results = []
    for ch in changes:
        full = ch.baseline_meta.get("data") == "full"
        data = (data_dir or (SHARED_DATA if SHARED_DATA.is_dir() else None)) if full else None
        run = runner(ch.suite, ch.changed, data, ch.baseline_meta.get("limit"))
        baseline_rows = open_run(ch.baseline).rows() if ch.baseline else None
        checks = gate(ch.suite, run.rows(), baseline_rows, tolerance)
        results.append((ch, run, checks))
    return results, markdown(results)


def _fmt(v: Any) -> str:
    return "–" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))


def markdown(results: list[tuple[SuiteChange, RunDir, list[Check]]]) -> str:
    if not results:
        return "### Prompt gate\n\nNo prompt file changed since the committed baselines: nothing to run.\n"
    failed = sum(1 for _, _, checks in results for c in checks if not c.ok)
    lines = ["### Prompt gate", "",
             f"**{'FAILED' if failed else 'passed'}**: {len(results)} suite(s) re-run for changed prompts"
             f"{f', {failed} check(s) failed' if failed else ''}.", ""]
    for ch, run, checks in results:
        base = ch.baseline.relative_to(REPO_ROOT) if ch.baseline and ch.baseline.is_relative_to(REPO_ROOT) \
            else ch.baseline
        lines += [f"#### {ch.suite.id}: {', '.join(ch.changed)}",
                  f"baseline `{base or 'none'}` · run `{run.path.name}`", "",
                  "| variant | metric | check | result | detail |", "|---|---|---|---|---|"]
        for c in sorted(checks, key=lambda c: (c.ok, c.variant, c.metric)):
            lines.append(f"| {c.variant} | {c.metric} | {c.kind} | {'✅' if c.ok else '❌'} | {c.detail} |")
        lines.append("")
    return "\n".join(lines) + "\n"
