"""Supporting-sentence precision / recall / F1 of citations against gold evidence (HotpotQA).

Gold evidence and cited sentences are character spans of article texts, so the score does not
depend on how either side segmented the text:

* precision: the share of cited sentences that overlap some gold span;
* recall: the share of gold spans overlapped by some cited sentence.

Precision is ``None`` when nothing was cited (an abstention), recall is ``None`` without gold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Span:
    article_id: str
    start: int
    end: int

    def overlaps(self, other: Span) -> bool:
        return self.article_id == other.article_id and self.start < other.end and other.start < self.end


@dataclass(frozen=True, slots=True)
class SupportPRF:
    precision: float | None
    recall: float | None
    f1: float | None


def support_prf(cited: Sequence[Span], gold: Sequence[Span]) -> SupportPRF:
    cited = list(dict.fromkeys(cited))
    precision = sum(any(c.overlaps(g) for g in gold) for c in cited) / len(cited) if cited else None
    recall = sum(any(g.overlaps(c) for c in cited) for g in gold) / len(gold) if gold else None
    if precision is None or recall is None:
        f1 = 0.0 if gold else None
    else:
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return SupportPRF(precision, recall, f1)
