"""Fit the learned abstention gate on the tuning fold and judge it on the check fold.

Input: ask-suite runs whose rows carry ``signals`` (``newsdesk eval run hotpotqa-cite@2 ...``,
``realtimeqa@2``, ``tricky@2``).  Each answered row is labelled *right* when the answer holds a
gold answer (``answer_contains``) of an answerable question, *wrong* otherwise (a wrong answer,
or any answer to an unanswerable question).

* The logistic regression (:class:`service.verify.support.SupportParams`, Newton, L2) is fitted
  on the **tune** fold only; its L2 strength by 5-fold cross-validation inside the tune fold.
* The threshold is chosen on the tune fold's out-of-fold probabilities: the one that withdraws
  the most wrong answers net of right ones (no withdrawal at all is a candidate).
* The **check** fold, which neither saw, reports the AUC (the model and each signal alone) and
  what the gate would do at that threshold: right answers lost, wrong answers withdrawn, and the
  suites' headline rates with and without it.

``--write`` saves the gate (service/generation/abstain_params.json) only when the check fold
gains (wrong withdrawn > right lost); otherwise the gate stays off and the report says why.

    python -m evals.abstain_fit results/hotpotqa-cite-v2/<run> results/realtimeqa-v2/<run> ...
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from evals.calibrate_support import roc_auc
from evals.folds import fold_of
from service.generation.confidence import FEATURES, PARAMS_PATH, AbstainGate
from service.verify.support import SupportParams

L2_GRID = (0.1, 1.0, 3.0, 10.0, 30.0, 100.0)
INNER_FOLDS = 5
SEED = 7


@dataclass(slots=True)
class Answered:
    suite: str
    case_id: str
    fold: str
    x: list[float]
    right: bool
    answerable: bool


def load(run_dirs: Sequence[Path]) -> tuple[list[Answered], dict[str, list[dict[str, Any]]]]:
    """Answered rows with signals, and every row by suite (for the rates with and without)."""
    answered: list[Answered] = []
    rows_by_suite: dict[str, list[dict[str, Any]]] = {}
    for d in run_dirs:
        suite = d.parent.name
        rows = [json.loads(line) for line in (d / "results.jsonl").read_text(encoding="utf-8").splitlines() if line]
        rows_by_suite.setdefault(suite, []).extend(rows)
        for r in rows:
            if r.get("abstained") or r.get("error"):
                continue
            sig = r.get("signals")
            if not sig:
                raise SystemExit(f"{d}: row {r['case_id']} has no signals; re-run the suite with this code")
            answerable = bool(r["gold"].get("answerable", True))
            right = answerable and (r["metrics"].get("answer_contains") or 0.0) >= 1.0
            answered.append(Answered(suite, r["case_id"], fold_of(r["case_id"]), [float(sig[f]) for f in FEATURES],
                                     right, answerable))
    return answered, rows_by_suite


def _split(n: int, k: int, seed: int = SEED) -> list[np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    return [order[i::k] for i in range(k)]


def _logloss(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def out_of_fold(x: np.ndarray, y: np.ndarray, l2: float) -> np.ndarray:
    pred = np.zeros(len(y))
    for part in _split(len(y), INNER_FOLDS):
        train = np.setdiff1d(np.arange(len(y)), part)
        pred[part] = SupportParams.fit(x[train], y[train], FEATURES, l2=l2).predict(x[part])
    return pred


def best_threshold(y: np.ndarray, p: np.ndarray, cost: float = 1.0) -> float:
    """The probability below which answers are withdrawn that maximises ``cost`` x wrong withdrawn
    minus right withdrawn (0: withdraw nothing, preferred on ties).  ``cost`` is what a wrong answer
    costs against a lost right one."""
    best_t, best_net = 0.0, 0.0
    for t in np.unique(p):
        below = p < t
        net = float(cost * np.sum(below & (y == 0)) - np.sum(below & (y == 1)))
        if net > best_net:
            best_t, best_net = float(t), net
    return best_t


def effect(y: np.ndarray, p: np.ndarray, t: float) -> dict[str, int]:
    below = p < t
    return {"answered": len(y), "right": int(y.sum()), "right_lost": int(np.sum(below & (y == 1))),
            "wrong_withdrawn": int(np.sum(below & (y == 0)))}


def rates(rows: list[dict[str, Any]], withdrawn: set[str], fold: str) -> dict[str, float | None]:
    """Answerable answered right and unanswerable abstained, on one fold, with ``withdrawn`` abstaining."""
    mine = [r for r in rows if fold_of(r["case_id"]) == fold and not r.get("error")]
    ans = [r for r in mine if r["gold"].get("answerable", True)]
    un = [r for r in mine if not r["gold"].get("answerable", True)]
    right = sum(1 for r in ans if (r["metrics"].get("answer_contains") or 0) >= 1 and r["case_id"] not in withdrawn)
    abst = sum(1 for r in un if r.get("abstained") or r["case_id"] in withdrawn)
    return {"answerable_right": round(right / len(ans), 3) if ans else None,
            "unanswerable_abstained": round(abst / len(un), 3) if un else None, "n_answerable": len(ans),
            "n_unanswerable": len(un)}


def fit(answered: list[Answered], rows_by_suite: dict[str, list[dict[str, Any]]],
        cost: float = 1.0) -> tuple[AbstainGate, dict]:
    tune = [a for a in answered if a.fold == "tune"]
    check = [a for a in answered if a.fold == "check"]
    xt, yt = np.array([a.x for a in tune]), np.array([float(a.right) for a in tune])
    xc, yc = np.array([a.x for a in check]), np.array([float(a.right) for a in check])
    losses = {l2: _logloss(yt, out_of_fold(xt, yt, l2)) for l2 in L2_GRID}
    l2 = min(losses, key=lambda k: losses[k])
    oof = out_of_fold(xt, yt, l2)
    threshold = best_threshold(yt, oof, cost)
    model = SupportParams.fit(xt, yt, FEATURES, l2=l2)
    pc = model.predict(xc)
    withdrawn = {a.case_id for a, p in zip(check, pc, strict=True) if p < threshold}
    withdrawn_tune = {a.case_id for a, p in zip(tune, oof, strict=True) if p < threshold}
    report: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "n": {"tune": len(tune), "check": len(check)},
        "l2": l2, "l2_logloss": {str(k): round(v, 4) for k, v in losses.items()},
        "cost": cost, "threshold": round(threshold, 4),
        "auc": {"tune_out_of_fold": round(roc_auc(yt, oof), 3), "check": round(roc_auc(yc, pc), 3)},
        "auc_single_signal_check": {f: round(roc_auc(yc, xc[:, i]), 3) for i, f in enumerate(FEATURES)},
        "effect": {"tune_out_of_fold": effect(yt, oof, threshold), "check": effect(yc, pc, threshold)},
        "suites": {},
    }
    for suite, rows in sorted(rows_by_suite.items()):
        report["suites"][suite] = {
            fold: {"without": rates(rows, set(), fold), "with": rates(rows, w, fold)}
            for fold, w in (("tune", withdrawn_tune), ("check", withdrawn))}
    eff = report["effect"]["check"]
    report["carries"] = bool(threshold > 0 and cost * eff["wrong_withdrawn"] > eff["right_lost"])
    gate = AbstainGate(model, threshold, {k: report[k] for k in ("date", "n", "l2", "auc", "effect", "carries")})
    return gate, report


def markdown(report: dict[str, Any]) -> str:
    e = report["effect"]
    lines = [f"Abstention gate ({report['date']}): answered rows tune {report['n']['tune']}, "
             f"check {report['n']['check']}; L2 {report['l2']}; a wrong answer costs {report['cost']} right ones; "
             f"threshold {report['threshold']}.",
             "",
             f"- AUC, P(right) from the signals: tune (out of fold) {report['auc']['tune_out_of_fold']}, "
             f"**check {report['auc']['check']}**",
             "- AUC of each signal alone on the check fold: " + ", ".join(
                 f"{k} {v}" for k, v in report["auc_single_signal_check"].items()),
             f"- At the threshold, tune (out of fold): {e['tune_out_of_fold']['wrong_withdrawn']} wrong answers "
             f"withdrawn, {e['tune_out_of_fold']['right_lost']} right lost; **check: "
             f"{e['check']['wrong_withdrawn']} wrong withdrawn, {e['check']['right_lost']} right lost**",
             f"- Carries (check gains): **{'yes' if report['carries'] else 'no'}**",
             "", "| suite | fold | answerable right without / with | unanswerable abstained without / with |",
             "|---|---|---|---|"]
    for suite, folds in report["suites"].items():
        for fold, r in folds.items():
            lines.append(f"| {suite} | {fold} | {r['without']['answerable_right']} / {r['with']['answerable_right']} "
                         f"(n={r['without']['n_answerable']}) | {r['without']['unanswerable_abstained']} / "
                         f"{r['with']['unanswerable_abstained']} (n={r['without']['n_unanswerable']}) |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", type=Path, help="run folders (results/<suite>/<run>)")
    ap.add_argument("--out", type=Path, default=Path("evals/reports/abstain_gate.json"))
    ap.add_argument("--cost", type=float, default=1.0, help="a wrong answer's cost in lost right answers")
    ap.add_argument("--write", action="store_true", help=f"save the gate to {PARAMS_PATH} if the check fold gains")
    args = ap.parse_args(argv)
    answered, rows = load(args.runs)
    gate, report = fit(answered, rows, args.cost)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(markdown(report))
    if args.write:
        if report["carries"]:
            PARAMS_PATH.write_text(json.dumps(gate.to_json(), indent=2) + "\n", encoding="utf-8")
            print(f"wrote {PARAMS_PATH}")
        else:
            PARAMS_PATH.unlink(missing_ok=True)
            print(f"the check fold does not gain: no gate written ({PARAMS_PATH} absent, the gate is off)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
