"""Summary statistics and two-sample tests on latency samples, with numpy only.

Percentiles use linear interpolation between order statistics (numpy's default), so p50 of an even
sample is the mean of its two middle values. The tests answer one question: is the current sample
*larger* (slower) than the baseline sample, beyond what noise explains? Two separate runs are
independent samples (Mann-Whitney U, a bootstrap of each side); two targets measured interleaved are
pairs (`wilcoxon_greater`, `paired_bootstrap_difference`), whose noise is that of the differences
within each pair: what moved both sides of a pair, the machine, cancels.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

PERCENTILES = (50, 90, 95, 99)
_BOOTSTRAP_CELLS = 4_000_000  # resamples x sample size evaluated per batch, to bound memory


@dataclass(frozen=True)
class Summary:
    """count, avg, min, max, std (population) and the percentiles of a non-empty sample."""

    count: int
    avg: float
    min: float
    max: float
    std: float
    p50: float
    p90: float
    p95: float
    p99: float


def summarize(values: Sequence[float]) -> Summary | None:
    """The summary of `values`, or None when there are none."""
    if not values:
        return None
    data = np.asarray(values, dtype=float)
    p50, p90, p95, p99 = (float(v) for v in np.percentile(data, PERCENTILES))
    return Summary(
        count=len(data),
        avg=float(data.mean()),
        min=float(data.min()),
        max=float(data.max()),
        std=float(data.std()),
        p50=p50,
        p90=p90,
        p95=p95,
        p99=p99,
    )


def statistic(values: Sequence[float], name: str) -> float:
    """One named statistic (`avg` or `pNN`) of a non-empty sample."""
    data = np.asarray(values, dtype=float)
    if name == "avg":
        return float(data.mean())
    return float(np.percentile(data, _percent(name)))


def _percent(name: str) -> float:
    if not name.startswith("p") or not name[1:].replace(".", "", 1).isdigit():
        raise ValueError(f"unknown statistic {name!r}: use avg or pNN (p50, p95, ...)")
    value = float(name[1:])
    if not 0 < value < 100:
        raise ValueError(f"unknown statistic {name!r}: the percentile must be between 0 and 100")
    return value


def samples_needed(name: str, tail: int) -> int:
    """The smallest sample that has `tail` values beyond statistic `name` on its narrower side.

    A bootstrap (or any estimate) of p95 from 30 values rests on one or two of them, and two runs on
    a shared machine then "differ significantly" by chance; with 100 values p95 has 5 beyond it.
    """
    if name == "avg":
        return 2 * tail
    share = min(_percent(name), 100 - _percent(name)) / 100
    return math.ceil(tail / share - 1e-9)


def validate_statistic(name: str) -> str:
    """`name` if it is a statistic `statistic()` understands; ValueError otherwise."""
    if name != "avg":
        _percent(name)
    return name


def mann_whitney_greater(baseline: Sequence[float], current: Sequence[float]) -> float:
    """One-sided p-value of Mann-Whitney U for 'current tends to be larger than baseline'.

    Normal approximation with mid-ranks for ties, the tie-corrected variance and a continuity
    correction; good from about eight values per side, which any useful benchmark run exceeds.
    """
    n1, n2 = len(baseline), len(current)
    if n1 == 0 or n2 == 0:
        raise ValueError("both samples must be non-empty")
    pooled = np.concatenate([np.asarray(baseline, dtype=float), np.asarray(current, dtype=float)])
    ranks = _midranks(pooled)
    u_current = float(ranks[n1:].sum()) - n2 * (n2 + 1) / 2
    mean = n1 * n2 / 2
    _, counts = np.unique(pooled, return_counts=True)
    n = n1 + n2
    tie_term = float((counts**3 - counts).sum()) / (n * (n - 1)) if n > 1 else 0.0
    variance = n1 * n2 / 12 * ((n + 1) - tie_term)
    if variance <= 0:  # every value equal: no evidence either way
        return 1.0
    z = (u_current - mean - 0.5) / math.sqrt(variance)
    return 0.5 * math.erfc(z / math.sqrt(2))


def _midranks(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Ranks 1..n, ties sharing the mean of their ranks."""
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    ranks = np.empty(len(values), dtype=float)
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], len(values)]
    for start, end in zip(starts, ends, strict=True):
        ranks[order[start:end]] = (start + 1 + end) / 2
    return ranks


def wilcoxon_greater(baseline: Sequence[float], current: Sequence[float]) -> float:
    """One-sided p-value of the Wilcoxon signed-rank test for 'current tends to be larger than the
    baseline it is paired with' (`baseline[i]` with `current[i]`).

    On the log ratios of the pairs when every value is positive, so a long text's pair weighs as much
    as a short one's; on the differences otherwise. Zero differences are dropped (Wilcoxon's own
    method), ties share mid-ranks with the variance corrected for them, and the normal approximation
    has a continuity correction: good from about ten pairs, which any useful comparison exceeds.
    """
    if len(baseline) != len(current):
        raise ValueError("paired samples must have the same length")
    base = np.asarray(baseline, dtype=float)
    cur = np.asarray(current, dtype=float)
    if base.size == 0:
        raise ValueError("both samples must be non-empty")
    positive = bool((base > 0).all() and (cur > 0).all())
    diffs = np.log(cur) - np.log(base) if positive else cur - base
    diffs = diffs[diffs != 0]
    n = diffs.size
    if n == 0:  # every pair equal: no evidence either way
        return 1.0
    ranks = _midranks(np.abs(diffs))
    statistic_plus = float(ranks[diffs > 0].sum())
    mean = n * (n + 1) / 4
    _, counts = np.unique(np.abs(diffs), return_counts=True)
    variance = n * (n + 1) * (2 * n + 1) / 24 - float((counts**3 - counts).sum()) / 48
    if variance <= 0:
        return 1.0
    z = (statistic_plus - mean - 0.5) / math.sqrt(variance)
    return 0.5 * math.erfc(z / math.sqrt(2))


@dataclass(frozen=True)
class Interval:
    """A confidence interval of `current statistic - baseline statistic`."""

    low: float
    high: float
    confidence: float


def bootstrap_difference(
    baseline: Sequence[float],
    current: Sequence[float],
    stat: str,
    *,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> Interval:
    """Percentile-bootstrap interval of the difference of `stat` between the samples (seeded)."""
    if not baseline or not current:
        raise ValueError("both samples must be non-empty")
    rng = np.random.default_rng(seed)
    base = np.asarray(baseline, dtype=float)
    cur = np.asarray(current, dtype=float)
    of_current = _resampled(len(cur), resamples, rng, lambda picks: _of_rows(cur[picks], stat))
    of_baseline = _resampled(len(base), resamples, rng, lambda picks: _of_rows(base[picks], stat))
    return _percentile_interval(of_current - of_baseline, confidence)


def paired_bootstrap_difference(
    baseline: Sequence[float],
    current: Sequence[float],
    stat: str,
    *,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> Interval:
    """Percentile-bootstrap interval of `stat(current) - stat(baseline)` over paired samples: each
    resample draws pairs, the same indices on both sides, so the interval is as wide as the noise
    within the pairs, not that of each side (seeded)."""
    base, cur = _pairs(baseline, current)

    def difference(picks: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        return _of_rows(cur[picks], stat) - _of_rows(base[picks], stat)

    rng = np.random.default_rng(seed)
    return _percentile_interval(_resampled(len(base), resamples, rng, difference), confidence)


def paired_ratio_interval(
    baseline: Sequence[float],
    current: Sequence[float],
    *,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> Interval:
    """Percentile-bootstrap interval of the typical ratio `current[i] / baseline[i]` of positive pairs
    (the median of the per-pair log ratios, resampled by pair, then exponentiated).

    Sharper than the difference of the two sides' medians when the machine swings between pairs: a
    pair's ratio cancels the moment it ran in, where two medians taken apart still move with it (on
    a machine whose speed swings 1.6x between requests, a 25 % regression gives a ratio interval of
    about +/-1 % against +/-9 % for the difference of the medians)."""
    base, cur = _pairs(baseline, current)
    if (base <= 0).any() or (cur <= 0).any():
        raise ValueError("ratios need positive values")
    ratios = np.log(cur) - np.log(base)
    rng = np.random.default_rng(seed)
    medians = _resampled(len(ratios), resamples, rng, lambda picks: np.median(ratios[picks], axis=1))
    interval = _percentile_interval(medians, confidence)
    return Interval(math.exp(interval.low), math.exp(interval.high), confidence)


def _pairs(
    baseline: Sequence[float], current: Sequence[float]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    if len(baseline) != len(current):
        raise ValueError("paired samples must have the same length")
    if not baseline:
        raise ValueError("both samples must be non-empty")
    return np.asarray(baseline, dtype=float), np.asarray(current, dtype=float)


def _percentile_interval(estimates: npt.NDArray[np.float64], confidence: float) -> Interval:
    """The central `confidence` interval of bootstrap estimates."""
    if not 0 < confidence < 1:
        raise ValueError("confidence must be between 0 and 1")
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(estimates, [tail, 100 - tail])
    return Interval(float(low), float(high), confidence)


def _of_rows(draws: npt.NDArray[np.float64], stat: str) -> npt.NDArray[np.float64]:
    """`stat` of each row of resampled values."""
    return draws.mean(axis=1) if stat == "avg" else np.percentile(draws, _percent(stat), axis=1)


def _resampled(
    n: int,
    resamples: int,
    rng: np.random.Generator,
    estimate: Callable[[npt.NDArray[np.int64]], npt.NDArray[np.float64]],
) -> npt.NDArray[np.float64]:
    """`estimate` of `resamples` bootstrap resamples of n values (rows of drawn indices), in batches
    of bounded size."""
    batch = max(1, _BOOTSTRAP_CELLS // n)
    out = np.empty(resamples, dtype=float)
    for start in range(0, resamples, batch):
        stop = min(resamples, start + batch)
        out[start:stop] = estimate(rng.integers(0, n, size=(stop - start, n)))
    return out
