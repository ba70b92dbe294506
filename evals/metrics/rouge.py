"""ROUGE-1/2/L F-measure with Google's ``rouge-score`` (Porter stemming, as in most papers)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def _scorer() -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)


def rouge(prediction: str, reference: str) -> dict[str, float]:
    scores = _scorer().score(reference, prediction)
    return {name: round(float(s.fmeasure), 6) for name, s in scores.items()}
