"""Checker calibration metrics run evals/calibrate_support.py's code with the shipped checker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.metrics.calibration import calibrate

ARTICLE = ("The city council approved a budget of 4 million dollars on Tuesday.\n"
           "The mayor said the money will repair roads in the north district.\n"
           "Work is due to start in May and end in October.")


def write(path: Path, rows: list[dict[str, object]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def test_auc_and_spearman_on_hand_made_labels(tmp_path: Path, embedder: object) -> None:
    write(tmp_path / "qags_dev.jsonl", [{
        "article": ARTICLE,
        "summary_sentences": [{"sentence": s, "responses": []} for s in (
            "The council approved a budget of 4 million dollars on Tuesday.",
            "Work on the roads is due to start in May.",
            "The president of France resigned after a football match in Brazil.",
            "Scientists found water on a distant moon of Jupiter last year.")],
        "sentence_majority_supported": [1, 1, 0, 0],
    }])
    base = {"hash": "h", "dataset": "cnndm", "article": ARTICLE}
    write(tmp_path / "frank_dev.jsonl", [
        {**base, "model_name": "copy", "Factuality": 1.0,
         "summary": "The city council approved a budget of 4 million dollars on Tuesday."},
        {**base, "model_name": "half", "Factuality": 0.5,
         "summary": "The council approved 4 million dollars. The mayor of Paris won a gold medal in swimming."},
        {**base, "model_name": "wrong", "Factuality": 0.0,
         "summary": "A volcano erupted in Iceland and closed every airport in Europe for 9 weeks."},
    ])
    result = calibrate(tmp_path, embedder)
    assert result.qags_claims == 4
    assert result.qags_roc_auc == pytest.approx(1.0)  # both supported claims outrank both unrelated ones
    assert result.frank_spearman["all"]["summaries"] == 3
    assert result.frank_spearman["all"]["spearman_mean"] == pytest.approx(1.0)
