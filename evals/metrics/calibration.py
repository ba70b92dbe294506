"""Support-checker calibration: ROC AUC against QAGS human labels and Spearman correlation with
FRANK's human Factuality.  The data handling and the statistics are evals/calibrate_support.py's
(the calibration script); this module only runs them with the checker the service uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from evals import calibrate_support as cal
from service.verify.support import SupportChecker


@dataclass(frozen=True, slots=True)
class Calibration:
    qags_roc_auc: float
    qags_claims: int
    frank_spearman: dict[str, Any]
    qags_source: str
    frank_source: str


def qags_roc_auc(records: list[dict[str, Any]], checker: SupportChecker, emb: cal.CachedEmbedder) -> tuple[float, int]:
    claims = cal.build_qags_claims(records, emb)
    scores = np.array([s.score for s in checker.score_many([(c.text, c.evidence) for c in claims])])
    labels = np.array([c.label for c in claims])
    return cal.roc_auc(labels, scores), len(claims)


def frank_spearman(rows: list[dict[str, Any]], checker: SupportChecker, emb: cal.CachedEmbedder) -> dict[str, Any]:
    summaries, pairs, owner = cal.frank_pairs(rows, emb)
    scores = np.array([s.score for s in checker.score_many(pairs)])
    return cal.frank_spearman(summaries, owner, scores)


def calibrate(data_dir: Path, embedder: Any) -> Calibration:
    """Score the shipped checker on ``data_dir`` (the shared data, or evals/data's dev samples)."""
    emb = cal.CachedEmbedder(embedder)
    checker = SupportChecker(emb)
    qags, qags_src = cal.load_qags(data_dir)
    frank, frank_src = cal.load_frank(data_dir)
    auc, n = qags_roc_auc(qags, checker, emb)
    return Calibration(round(auc, 4), n, frank_spearman(frank, checker, emb), qags_src, frank_src)
