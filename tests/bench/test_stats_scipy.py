"""The benchmark's own statistics against SciPy's, which the service images cannot afford to carry.

`vibevoice-bench` ships in the TTS image, and SciPy would add about 140 MB to an image whose budget
is 150 MB in all; so the gate keeps its own small functions, and these tests hold them to SciPy's
answers (SciPy comes with the dev extra only).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy import stats as scipy_stats

from vibevoice_platform.bench.stats import (
    bootstrap_difference,
    mann_whitney_greater,
    paired_bootstrap_difference,
    wilcoxon_greater,
)


@pytest.mark.parametrize("seed", range(6))
def test_mann_whitney_matches_scipy_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    baseline = np.round(rng.normal(20.0, 2.0, 40 + seed * 7), 1)  # rounded: many ties
    current = np.round(rng.normal(20.0 + seed * 0.3, 2.0, 35 + seed * 5), 1)
    # Any: scipy's decorated result type is not one pyright resolves the same in every environment
    result: Any = scipy_stats.mannwhitneyu(
        current, baseline, alternative="greater", method="asymptotic", use_continuity=True
    )
    expected = result.pvalue
    assert mann_whitney_greater(baseline.tolist(), current.tolist()) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("paired", [False, True], ids=["independent", "paired"])
@pytest.mark.parametrize("stat", ["avg", "p50", "p95"])
def test_bootstrap_interval_agrees_with_scipy(stat: str, paired: bool) -> None:
    rng = np.random.default_rng(7)
    machine = rng.lognormal(3.0, 0.4, 200) if paired else np.ones(200)  # what both sides of a pair share
    baseline = machine * rng.lognormal(3.0 * (not paired), 0.3, 200)
    current = machine * rng.lognormal(3.0 * (not paired) + 0.1, 0.3, 200)
    bootstrap = paired_bootstrap_difference if paired else bootstrap_difference
    ours = bootstrap(baseline.tolist(), current.tolist(), stat, resamples=2000)

    def difference(base: np.ndarray, cur: np.ndarray, axis: int) -> np.ndarray:
        if stat == "avg":
            return cur.mean(axis=axis) - base.mean(axis=axis)
        q = float(stat.removeprefix("p"))
        return np.percentile(cur, q, axis=axis) - np.percentile(base, q, axis=axis)

    theirs = scipy_stats.bootstrap(
        (baseline, current),
        difference,
        n_resamples=2000,
        method="percentile",
        paired=paired,
        vectorized=True,
        rng=np.random.default_rng(1),
    ).confidence_interval
    # Two Monte Carlo estimates of one interval: they agree to within a small part of its width.
    width = theirs.high - theirs.low
    assert ours.low == pytest.approx(theirs.low, abs=0.1 * width)
    assert ours.high == pytest.approx(theirs.high, abs=0.1 * width)


@pytest.mark.parametrize("seed", range(5))
def test_wilcoxon_matches_scipy_on_the_log_ratios(seed: int) -> None:
    rng = np.random.default_rng(seed)
    baseline = np.round(rng.lognormal(3.0, 0.3, 60), 1)  # rounded: ties and zero differences
    current = np.round(baseline * rng.lognormal(0.03 * seed, 0.1, 60), 1)
    result: Any = scipy_stats.wilcoxon(
        np.log(current) - np.log(baseline),
        alternative="greater",
        zero_method="wilcox",
        correction=True,
        method="approx",
    )
    assert wilcoxon_greater(baseline.tolist(), current.tolist()) == pytest.approx(result.pvalue, rel=1e-9)
