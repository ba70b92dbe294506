"""The rule audit: every answer-path rule turned off alone, on the dev suites, counted in cases.

``python -m evals.audit --data-dir ../shared/data --json evals/reports/audit/audit.json``

For each suite a baseline run (every rule on) and one run per rule with only that rule off
(``NEWSDESK_RULES_OFF=name``, read by :func:`service.rules.enabled`). Model responses
come from the eval cache, so after the baseline only prompts that a rule changes call the model.
Per rule and suite: the cases each audited metric gains or loses with the rule on, split by fold
(evals/folds.py), and the metric with the rule on and off. A rule whose whole gain is one or two
cases, on no fold it was not tuned on, is a candidate for deletion.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from evals.compare import values_by_case
from evals.folds import fold_of
from evals.runner import RunOptions, run_suite
from evals.suite import load_suite
from service.config import REPO_ROOT

AUDITED = {
    "hotpotqa-cite@2": ("answer_contains", "citation_recall", "citation_precision"),
    "realtimeqa@2": ("answer_contains", "abstained_unanswerable"),
    "tricky@2": ("answer_contains", "abstention_correct", "citation_recall"),
}
OFF_ENV = "NEWSDESK_RULES_OFF"


def _run(suite_id: str, data_dir: Path | None, results: Path, off: str,
         work_dir: Path | None = None) -> list[dict[str, Any]]:
    os.environ[OFF_ENV] = off
    try:
        suite = load_suite(suite_id)
        outcome = run_suite(RunOptions(suite, data_dir=data_dir if suite.dataset.full else None,
                                       results_dir=results / (off or "baseline"), work_dir=work_dir, resume=False))
    finally:
        os.environ.pop(OFF_ENV, None)
    return outcome.run.rows()


def effect(base: list[dict[str, Any]], off: list[dict[str, Any]], metric: str) -> dict[str, Any]:
    """Cases the rule gains (on > off) and loses, overall and per fold, and the two means."""
    variant = base[0]["variant"]
    on_v, off_v = values_by_case(base, variant, metric), values_by_case(off, variant, metric)
    common = [c for c in on_v if c in off_v]
    out: dict[str, Any] = {"n": len(common)}
    for fold in (None, "tune", "check"):
        cases = [c for c in common if fold is None or fold_of(c) == fold]
        key = fold or "all"
        out[key] = {"gain": sum(on_v[c] > off_v[c] + 1e-9 for c in cases),
                    "loss": sum(on_v[c] < off_v[c] - 1e-9 for c in cases)}
    out["on"] = round(sum(on_v[c] for c in common) / len(common), 3) if common else None
    out["off"] = round(sum(off_v[c] for c in common) / len(common), 3) if common else None
    return out


def audit(suites: list[str], rule_names: list[str], data_dir: Path | None, results: Path,
          on_rule: Callable[[dict[str, Any]], None] | None = None, work_dir: Path | None = None) -> dict[str, Any]:
    """Baselines first, then one rule at a time across every suite (a partial report has whole rows).
    ``work_dir`` holds the response cache and the suites' stores (one process per work dir)."""
    bases = {s: _run(s, data_dir, results, "", work_dir) for s in suites}
    report: dict[str, Any] = {s: {} for s in suites}
    for rule in rule_names:
        for suite_id in suites:
            rows = _run(suite_id, data_dir, results, rule, work_dir)
            report[suite_id][rule] = {m: effect(bases[suite_id], rows, m) for m in AUDITED[suite_id]}
        if on_rule is not None:
            on_rule(report)
    return report


MERGED = {"on_topic_relation": "relation", "quote_relation": "relation", "contraction_heads": "relation"}
"""Rules audited apart and since kept as one (issue 22): each alone was redundant with the others."""


def markdown(report: dict[str, Any], rules: dict[str, str]) -> str:
    """One table: a row per audited rule (those no longer in ``rules`` marked deleted), a column per
    suite and metric, 'gain/loss' cases (check fold's)."""
    cols = [(s, m) for s in report for m in AUDITED[s]]
    head = " | ".join(f"{s.split('@')[0]} {m}" for s, m in cols)
    lines = [f"| rule | {head} |", "|---|" + "---|" * len(cols)]
    audited = [r for r in dict.fromkeys([*rules, *(r for s in report for r in report[s])])
               if any(r in report[s] for s in report)]
    for rule in audited:
        cells = []
        for s, m in cols:
            e = report[s].get(rule, {}).get(m)
            cells.append("–" if e is None else f"+{e['all']['gain']}/−{e['all']['loss']} "
                                               f"(check +{e['check']['gain']}/−{e['check']['loss']})")
        mark = "" if rule in rules else f" (merged into `{MERGED[rule]}`)" if rule in MERGED else " (deleted)"
        lines.append(f"| `{rule}`{mark} | {' | '.join(cells)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from service.rules import RULES

    ap = argparse.ArgumentParser(prog="python -m evals.audit", description=__doc__.split("\n")[0])
    ap.add_argument("--suite", action="append", default=None, help="default: the three ask suites")
    ap.add_argument("--rule", action="append", default=None, help="default: every rule")
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--results", type=Path, default=REPO_ROOT / "results" / "audit")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--render", type=Path, nargs="+", default=None,
                    help="print the table of saved reports (several: merged, e.g. two processes' halves)")
    ap.add_argument("--work-dir", type=Path, default=None,
                    help="the response cache and stores (default: the cache dir's evals/); one process each")
    args = ap.parse_args(argv)
    if args.render:
        merged: dict[str, Any] = {}
        for path in args.render:
            for suite, rules in json.loads(path.read_text())["report"].items():
                merged.setdefault(suite, {}).update(rules)
        done = [r for r in RULES if any(r in rules for rules in merged.values())]
        print(markdown(merged, {r: RULES[r] for r in done}))
        return 0
    rule_names = args.rule or list(RULES)

    def save(report: dict[str, Any]) -> None:
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps({"report": report, "rules": {r: RULES[r] for r in rule_names}}, indent=2))

    report = audit(args.suite or list(AUDITED), rule_names, args.data_dir, args.results, on_rule=save,
                   work_dir=args.work_dir)
    print(markdown(report, {r: RULES[r] for r in rule_names}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
