"""Comparing two stored runs (``newsdesk eval compare RUN_A RUN_B``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evals.compare import build, variants_of
from evals.report import write_report
from evals.runs import SUMMARY, RunDir


def _tag(rows: list[dict[str, Any]], tag: str) -> list[dict[str, Any]]:
    return [{**r, "variant": f"{tag}: {r['variant']}"} for r in rows]


def compare_runs(a: RunDir, b: RunDir, target: Path) -> dict[str, Any]:
    """Pair equal variant labels across the two runs (or their only variants) and write a report."""
    sa, sb = (json.loads((r.path / SUMMARY).read_text(encoding="utf-8")) for r in (a, b))
    rows_a, rows_b = a.rows(), b.rows()
    va, vb = variants_of(rows_a), variants_of(rows_b)
    common = [v for v in va if v in vb] or ([] if len(va) != 1 or len(vb) != 1 else None)
    pairs = [(f"A: {va[0]}", f"B: {vb[0]}")] if common is None else [(f"A: {v}", f"B: {v}") for v in common]
    metrics = [m for m in sa["metrics"] if m["name"] in {x["name"] for x in sb["metrics"]}]
    comparison = build(_tag(rows_a, "A") + _tag(rows_b, "B"), [m["name"] for m in metrics],
                       sa["comparison"]["primary"], pairs)
    summary = {"suite": sa["suite"], "description": f"run {a.name} (A) vs run {b.name} (B)", "task": sa["task"],
               "run": f"{a.path} vs {b.path}", "created": datetime.now(UTC).isoformat(timespec="seconds"),
               "data": f"{sa.get('data')} / {sb.get('data')}", "machine": sa.get("machine", {}), "metrics": metrics,
               "comparison": comparison.as_dict()}
    target.mkdir(parents=True, exist_ok=True)
    (target / SUMMARY).write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    write_report(target, summary)
    return summary
