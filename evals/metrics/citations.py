"""ALCE-style citation recall and precision (Gao et al. 2023), judged by our support checker.

* Recall, per statement: 1 when the concatenation of its cited sentences supports it.
* Precision, per citation: a citation of a supported statement is relevant unless it is
  redundant -- it does not support the statement on its own *and* the other citations still do
  without it.  Citations of an unsupported statement are not relevant.

``score`` takes ``(claim, evidence sentences)`` pairs and returns support probabilities; the
runner passes :meth:`SupportChecker.score_many`, tests pass a hand-made judge.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

Judge = Callable[[Sequence[tuple[str, list[str]]]], list[float]]


@dataclass(frozen=True, slots=True)
class Statement:
    text: str
    cited: tuple[str, ...]  # the cited sentences' texts


@dataclass(frozen=True, slots=True)
class AlceScores:
    recall: float | None  # mean over statements
    precision: float | None  # over all citations of the answer
    statements: int
    citations: int


def alce(statements: Sequence[Statement], score: Judge, threshold: float) -> AlceScores:
    if not statements:
        return AlceScores(None, None, 0, 0)
    joint = score([(s.text, list(s.cited)) for s in statements])
    supported = [bool(s.cited) and p >= threshold for s, p in zip(statements, joint, strict=True)]
    # one batched call for every single-citation and leave-one-out check
    checks: list[tuple[str, list[str]]] = []
    owners: list[tuple[int, int]] = []
    for i, s in enumerate(statements):
        if supported[i] and len(s.cited) > 1:
            for j, c in enumerate(s.cited):
                checks += [(s.text, [c]), (s.text, [o for k, o in enumerate(s.cited) if k != j])]
                owners.append((i, j))
    results = iter(score(checks)) if checks else iter(())
    irrelevant = 0
    for _ in owners:
        alone, without = next(results), next(results)
        if alone < threshold and without >= threshold:
            irrelevant += 1
    n_cit = sum(len(s.cited) for s in statements)
    relevant = sum(len(s.cited) for s, ok in zip(statements, supported, strict=True) if ok) - irrelevant
    return AlceScores(sum(supported) / len(statements), relevant / n_cit if n_cit else None,
                      len(statements), n_cit)
