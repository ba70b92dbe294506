"""evals.salience: key-sentence selection against the lead baseline, per fold, without a model."""

from __future__ import annotations

import json
from pathlib import Path

from evals import salience


def test_report_scores_every_scorer_against_the_lead_on_each_fold(tmp_path: Path) -> None:
    out = tmp_path / "selection.json"
    assert salience.main(["--suites", "neus-summary@1", "--limit", "6", "--fit", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    folds = report["folds"]["neus-summary"]
    assert set(folds) <= {"tune", "check"} and sum(f["n"] for f in folds.values()) == 6
    assert len(report["learned_params"]["weights"]) == len(salience.FEATURES)
    for entry in folds.values():
        for name in [*salience.HAND, "learned"]:
            gain = entry[name]["minus_lead"]["rouge1"]
            assert gain["lo"] <= gain["mean"] <= gain["hi"]
            assert abs(entry[name]["rouge1"] - entry["lead"]["rouge1"] - gain["mean"]) < 1e-3
