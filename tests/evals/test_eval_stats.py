"""Bootstrap CIs and paired comparisons are seeded, and sensible on known samples."""

from __future__ import annotations

import pytest

from evals.stats import bootstrap_ci, p95, paired


def test_bootstrap_ci_brackets_the_mean_and_is_reproducible() -> None:
    values = [0.0, 1.0] * 10
    est = bootstrap_ci(values)
    assert est.value == 0.5 and est.n == 20
    assert est.low is not None and est.high is not None and est.low < 0.5 < est.high
    assert bootstrap_ci(values) == est
    assert bootstrap_ci([]).value is None
    constant = bootstrap_ci([0.3] * 5)
    assert constant.low == pytest.approx(0.3) and constant.high == pytest.approx(0.3)


def test_paired_difference_detects_a_consistent_shift() -> None:
    a = [0.2, 0.4, 0.1, 0.5, 0.3, 0.6, 0.2, 0.4, 0.3, 0.5, 0.1, 0.2]
    b = [x + 0.3 for x in a]
    d = paired(a, b)
    assert d.diff == pytest.approx(0.3)
    assert d.low == pytest.approx(0.3) and d.high == pytest.approx(0.3)
    assert (d.wins, d.losses, d.ties) == (12, 0, 0)
    assert d.p_value is not None and d.p_value < 0.01


def test_paired_difference_of_noise_is_not_significant() -> None:
    a = [1.0, 0.0, 1.0, 0.0, 1.0, 0.0]
    b = [0.0, 1.0, 1.0, 0.0, 0.0, 1.0]
    d = paired(a, b)
    assert d.diff == 0.0 and (d.wins, d.losses, d.ties) == (2, 2, 2)
    assert d.low is not None and d.high is not None and d.low < 0 < d.high
    assert d.p_value is not None and d.p_value > 0.5


def test_paired_works_for_percentiles_and_checks_lengths() -> None:
    d = paired([100.0, 200.0, 300.0], [110.0, 210.0, 310.0], p95)
    assert d.diff == pytest.approx(10.0)
    with pytest.raises(ValueError):
        paired([1.0], [1.0, 2.0])
