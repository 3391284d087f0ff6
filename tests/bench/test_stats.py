"""Summary statistics and the two-sample tests."""

from __future__ import annotations

import numpy as np
import pytest

from vibevoice_platform.bench.stats import (
    bootstrap_difference,
    mann_whitney_greater,
    samples_needed,
    statistic,
    summarize,
    validate_statistic,
)


def test_summary_of_one_to_ten() -> None:
    summary = summarize([float(v) for v in range(10, 0, -1)])
    assert summary is not None
    assert (summary.count, summary.min, summary.max, summary.avg) == (10, 1.0, 10.0, 5.5)
    # linear interpolation between order statistics: rank (n - 1) * q
    assert summary.p50 == pytest.approx(5.5)
    assert summary.p90 == pytest.approx(9.1)
    assert summary.p95 == pytest.approx(9.55)
    assert summary.p99 == pytest.approx(9.91)
    assert summary.std == pytest.approx(2.8722813, rel=1e-6)  # population standard deviation


def test_summary_of_nothing_is_none() -> None:
    assert summarize([]) is None


@pytest.mark.parametrize(("name", "expected"), [("avg", 2.5), ("p50", 2.5), ("p0.5", 1.015), ("p100", None)])
def test_named_statistics(name: str, expected: float | None) -> None:
    if expected is None:
        with pytest.raises(ValueError, match="between 0 and 100"):
            statistic([1.0, 2.0, 3.0, 4.0], name)
    else:
        assert statistic([1.0, 2.0, 3.0, 4.0], name) == pytest.approx(expected)


@pytest.mark.parametrize("name", ["median", "p", "pxx", "95", "P95"])
def test_unknown_statistics_are_rejected(name: str) -> None:
    with pytest.raises(ValueError, match="unknown statistic"):
        validate_statistic(name)


def test_mann_whitney_matches_the_asymptotic_reference() -> None:
    # scipy.stats.mannwhitneyu(current, baseline, alternative="greater", method="asymptotic") gives 0.006093
    p = mann_whitney_greater([1, 2, 3, 4, 5], [6, 7, 8, 9, 10])
    assert p == pytest.approx(0.006093, abs=2e-6)


def test_mann_whitney_with_ties_matches_the_reference() -> None:
    # U = 33, mean 18, tie-corrected variance 36: z = 14.5 / 6; scipy's asymptotic test gives 0.0078317
    p = mann_whitney_greater([1, 2, 2, 3, 3, 3], [3, 3, 4, 4, 5, 6])
    assert p == pytest.approx(0.0078317, abs=2e-7)


def test_mann_whitney_sees_no_shift_in_one_distribution() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(100, 5, 200).tolist(), rng.normal(100, 5, 200).tolist()
    assert 0.05 < mann_whitney_greater(a, b) < 0.95
    assert mann_whitney_greater([7.0] * 20, [7.0] * 20) == 1.0


def test_mann_whitney_is_one_sided() -> None:
    slow, fast = [10.0 + i for i in range(20)], [1.0 + i for i in range(20)]
    assert mann_whitney_greater(fast, slow) < 0.001
    assert mann_whitney_greater(slow, fast) > 0.999


def test_bootstrap_interval_covers_a_real_shift_and_excludes_zero() -> None:
    rng = np.random.default_rng(2)
    base = rng.normal(100, 5, 300).tolist()
    cur = (rng.normal(100, 5, 300) + 20).tolist()
    interval = bootstrap_difference(base, cur, "p50", confidence=0.99)
    assert 0 < interval.low < 20 < interval.high


def test_bootstrap_interval_of_one_distribution_contains_zero() -> None:
    rng = np.random.default_rng(3)
    base, cur = rng.normal(100, 5, 300).tolist(), rng.normal(100, 5, 300).tolist()
    for stat in ("avg", "p50", "p95"):
        interval = bootstrap_difference(base, cur, stat, confidence=0.99)
        assert interval.low < 0 < interval.high, stat


def test_bootstrap_is_reproducible_with_its_seed() -> None:
    base, cur = [1.0, 2.0, 3.0, 4.0, 9.0], [2.0, 3.0, 4.0, 5.0, 8.0]
    first = bootstrap_difference(base, cur, "p95", seed=7)
    assert bootstrap_difference(base, cur, "p95", seed=7) == first
    assert bootstrap_difference(base, cur, "p95", seed=8) != first


def test_bootstrap_batches_large_samples() -> None:
    base = [1.0] * 50_000
    cur = [2.0] * 50_000  # 200 resamples x 50,000 values exceed one batch
    interval = bootstrap_difference(base, cur, "avg", resamples=200)
    assert interval.low == pytest.approx(1.0)
    assert interval.high == pytest.approx(1.0)


def test_bootstrap_rejects_empty_samples() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        bootstrap_difference([], [1.0], "p50")


@pytest.mark.parametrize(
    ("name", "tail", "needed"),
    [("p50", 5, 10), ("p95", 5, 100), ("p99", 5, 500), ("p90", 3, 30), ("avg", 5, 10)],
)
def test_samples_needed_to_judge_a_statistic(name: str, tail: int, needed: int) -> None:
    assert samples_needed(name, tail) == needed
