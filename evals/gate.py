"""The CI gate: thresholds from the suite, and no significant drop against a baseline run.

A drop is significant when the 95% CI of the paired difference (candidate - baseline, over the
cases both scored) lies entirely on the worse side of ``-tolerance`` (``+tolerance`` for metrics
where lower is better).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evals.compare import compare_pair, values_by_case, variants_of
from evals.metrics.registry import METRICS
from evals.stats import STATISTICS, bootstrap_ci
from evals.suite import Suite


@dataclass(frozen=True, slots=True)
class Check:
    variant: str
    metric: str
    kind: str  # threshold | regression
    ok: bool
    detail: str


def threshold_checks(suite: Suite, rows: list[dict[str, Any]]) -> list[Check]:
    out: list[Check] = []
    for variant in variants_of(rows):
        for spec in suite.metrics:
            if spec.min is None and spec.max is None:
                continue
            info = METRICS[spec.name]
            est = bootstrap_ci(list(values_by_case(rows, variant, spec.name).values()), STATISTICS[info.stat])
            if est.value is None:
                out.append(Check(variant, spec.name, "threshold", False, "no case produced this metric"))
                continue
            low_ok = spec.min is None or est.value >= spec.min
            high_ok = spec.max is None or est.value <= spec.max
            bound = f"min {spec.min}" if not low_ok else f"max {spec.max}" if not high_ok else "within bounds"
            out.append(Check(variant, spec.name, "threshold", low_ok and high_ok,
                             f"{est.value:.3f} (n={est.n}) {bound}"))
    return out


def baseline_variant(variant: str, base_variants: list[str]) -> str | None:
    """The same label, else the baseline variant with the same prompt, else the only one."""
    if variant in base_variants:
        return variant
    prompt = variant.partition(" | ")[0]
    same_prompt = [v for v in base_variants if v.partition(" | ")[0] == prompt]
    if len(same_prompt) == 1:
        return same_prompt[0]
    return base_variants[0] if len(base_variants) == 1 else None


def regression_checks(suite: Suite, rows: list[dict[str, Any]], baseline: list[dict[str, Any]],
                      tolerance: float) -> list[Check]:
    base_variants = variants_of(baseline)
    gated = [m.name for m in suite.metrics if m.gate]
    out: list[Check] = []
    for variant in variants_of(rows):
        ref = baseline_variant(variant, base_variants)
        if ref is None:
            continue
        tagged = [{**r, "variant": "baseline"} for r in baseline if r["variant"] == ref] + \
                 [{**r, "variant": "candidate"} for r in rows if r["variant"] == variant]
        pair = compare_pair(tagged, "baseline", "candidate", gated, suite.primary)
        for name, d in pair.diffs.items():
            if d.diff is None or d.low is None or d.high is None:
                continue
            higher = METRICS[name].higher_is_better
            worse = d.high < -tolerance if higher else d.low > tolerance
            out.append(Check(variant, name, "regression", not worse,
                             f"Δ {d.diff:+.3f} [{d.low:+.3f}, {d.high:+.3f}] vs {ref} (n={d.n}, p={d.p_value:.3f})"))
    return out


def gate(suite: Suite, rows: list[dict[str, Any]], baseline: list[dict[str, Any]] | None,
         tolerance: float = 0.0) -> list[Check]:
    checks = threshold_checks(suite, rows)
    if baseline:
        checks += regression_checks(suite, rows, baseline, tolerance)
    errors = [r for r in rows if r.get("error")]
    if errors:
        checks.append(Check("*", "errors", "threshold", False, f"{len(errors)} cases failed: {errors[0]['error']}"))
    return checks
