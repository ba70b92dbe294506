"""Aggregate result rows per variant and compare variants case by case.

Every metric mean (or percentile) gets a seeded bootstrap 95% CI.  For each pair of variants
(by default: the first one against each other one) every metric gets the paired difference
``b - a`` over the cases both scored, its CI and permutation p-value, and win/loss/tie counts.
The cases whose primary metric moved most are kept side by side for the report.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from evals.metrics.registry import METRICS
from evals.stats import STATISTICS, Estimate, PairedDiff, bootstrap_ci, paired

TOP_CHANGED = 8


@dataclass(slots=True)
class Side:
    variant: str
    value: float | None
    answer: str
    abstained: bool
    citations: list[dict[str, Any]]
    dropped: list[str] = field(default_factory=list)  # draft sentences verification removed


@dataclass(slots=True)
class ChangedCase:
    case_id: str
    question: str
    gold: list[str]
    delta: float
    a: Side
    b: Side


@dataclass(slots=True)
class PairComparison:
    a: str
    b: str
    diffs: dict[str, PairedDiff]
    changed: list[ChangedCase] = field(default_factory=list)


@dataclass(slots=True)
class Comparison:
    variants: list[str]
    metrics: list[str]
    primary: str
    estimates: dict[str, dict[str, Estimate]]
    values: dict[str, dict[str, list[float]]]  # variant -> metric -> per-case values
    pairs: list[PairComparison]
    cases: int
    errors: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "variants": self.variants, "metrics": self.metrics, "primary": self.primary, "cases": self.cases,
            "errors": self.errors,
            "estimates": {v: {m: e.as_dict() for m, e in ms.items()} for v, ms in self.estimates.items()},
            "values": self.values,
            "pairs": [{"a": p.a, "b": p.b, "diffs": {m: d.as_dict() for m, d in p.diffs.items()},
                       "changed": [asdict(c) for c in p.changed]} for p in self.pairs],
        }


def values_by_case(rows: list[dict[str, Any]], variant: str, metric: str) -> dict[str, float]:
    fld = METRICS[metric].field
    return {r["case_id"]: float(v) for r in rows
            if r["variant"] == variant and r.get("error") is None and (v := r["metrics"].get(fld)) is not None}


def variants_of(rows: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(r["variant"] for r in rows))


def _side(row: dict[str, Any] | None, variant: str, value: float | None) -> Side:
    if row is None:
        return Side(variant, value, "", False, [])
    return Side(variant, value, row.get("answer", ""), bool(row.get("abstained")), row.get("citations", []),
                [x["text"] for x in row.get("sentences", []) if x.get("flagged")])


def most_changed(rows: list[dict[str, Any]], a: str, b: str, primary: str, top: int = TOP_CHANGED) -> list[ChangedCase]:
    va, vb = values_by_case(rows, a, primary), values_by_case(rows, b, primary)
    by = {(r["variant"], r["case_id"]): r for r in rows if r.get("error") is None}
    out: list[ChangedCase] = []
    for case_id in dict.fromkeys(r["case_id"] for r in rows):
        ra, rb = by.get((a, case_id)), by.get((b, case_id))
        if ra is None or rb is None:
            continue
        delta = vb.get(case_id, 0.0) - va.get(case_id, 0.0)
        if abs(delta) < 1e-9 and ra.get("answer") == rb.get("answer"):
            continue
        out.append(ChangedCase(case_id, ra.get("question", ""), ra.get("gold", {}).get("answers", []), delta,
                               _side(ra, a, va.get(case_id)), _side(rb, b, vb.get(case_id))))
    out.sort(key=lambda c: (-abs(c.delta), c.case_id))
    return out[:top]


def compare_pair(rows: list[dict[str, Any]], a: str, b: str, metrics: list[str], primary: str) -> PairComparison:
    diffs: dict[str, PairedDiff] = {}
    for m in metrics:
        va, vb = values_by_case(rows, a, m), values_by_case(rows, b, m)
        common = [c for c in va if c in vb]
        diffs[m] = paired([va[c] for c in common], [vb[c] for c in common], STATISTICS[METRICS[m].stat])
    return PairComparison(a, b, diffs, most_changed(rows, a, b, primary))


def build(rows: list[dict[str, Any]], metrics: list[str], primary: str,
          pairs: list[tuple[str, str]] | None = None) -> Comparison:
    variants = variants_of(rows)
    values = {v: {m: list(values_by_case(rows, v, m).values()) for m in metrics} for v in variants}
    estimates = {v: {m: bootstrap_ci(values[v][m], STATISTICS[METRICS[m].stat]) for m in metrics}
                 for v in variants}
    if pairs is None:
        pairs = [(variants[0], v) for v in variants[1:]]
    return Comparison(variants, metrics, primary, estimates, values,
                      [compare_pair(rows, a, b, metrics, primary) for a, b in pairs],
                      len({r["case_id"] for r in rows}), sum(r.get("error") is not None for r in rows))
