"""Seeded resampling statistics for comparing variants on the same cases.

* :func:`bootstrap_ci`: percentile bootstrap CI of a statistic (mean, p50, p95 ...).
* :func:`paired`: for two variants scored on the same cases, the difference of the statistic
  with a paired bootstrap CI, a paired permutation p-value (labels swapped within each case),
  and win / loss / tie counts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

Statistic = Callable[[np.ndarray], Any]
"""Reduces the last axis: a 1-D sample gives a float, a (resamples, n) matrix one value per row."""
SEED = 20261127
RESAMPLES = 2000


def mean(x: np.ndarray) -> Any:
    return np.mean(x, axis=-1)


def p50(x: np.ndarray) -> Any:
    return np.percentile(x, 50, axis=-1)


def p95(x: np.ndarray) -> Any:
    return np.percentile(x, 95, axis=-1)


STATISTICS: dict[str, Statistic] = {"mean": mean, "p50": p50, "p95": p95}


@dataclass(frozen=True, slots=True)
class Estimate:
    value: float | None
    low: float | None
    high: float | None
    n: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class PairedDiff:
    """``b - a`` on the cases both variants scored."""

    diff: float | None
    low: float | None
    high: float | None
    p_value: float | None
    n: int
    wins: int  # cases where b > a
    losses: int
    ties: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def bootstrap_ci(values: Sequence[float], stat: Statistic = mean, *, level: float = 0.95,
                 resamples: int = RESAMPLES, seed: int = SEED) -> Estimate:
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return Estimate(None, None, None, 0)
    boots = stat(x[_rng(seed).integers(0, x.size, size=(resamples, x.size))])
    alpha = (1 - level) / 2
    return Estimate(float(stat(x)), float(np.quantile(boots, alpha)), float(np.quantile(boots, 1 - alpha)),
                    int(x.size))


def paired(a: Sequence[float], b: Sequence[float], stat: Statistic = mean, *, level: float = 0.95,
           resamples: int = RESAMPLES, seed: int = SEED, tie_tolerance: float = 1e-9) -> PairedDiff:
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape:
        raise ValueError("paired samples must have the same length")
    n = int(x.size)
    if n == 0:
        return PairedDiff(None, None, None, None, 0, 0, 0, 0)
    delta = y - x
    wins, losses = int(np.sum(delta > tie_tolerance)), int(np.sum(delta < -tie_tolerance))
    observed = float(stat(y) - stat(x))
    rng = _rng(seed)
    idx = rng.integers(0, n, size=(resamples, n))
    boots = stat(y[idx]) - stat(x[idx])
    alpha = (1 - level) / 2
    swap = rng.random((resamples, n)) < 0.5
    perm = stat(np.where(swap, x, y)) - stat(np.where(swap, y, x))
    p = float((np.sum(np.abs(perm) >= abs(observed) - 1e-12) + 1) / (resamples + 1))
    return PairedDiff(observed, float(np.quantile(boots, alpha)), float(np.quantile(boots, 1 - alpha)),
                      min(p, 1.0), n, wins, losses, n - wins - losses)
