"""The A/B comparison: two targets measured interleaved, judged pair by pair (compare with `pairs`)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.bench.factories import make_results
from vibevoice_platform.bench.compare import CheckResult, Comparison, Verdict, compare
from vibevoice_platform.bench.loadgen import Outcome
from vibevoice_platform.bench.paired import PairedOutcome, pairs_of
from vibevoice_platform.bench.policy import Method, Policy
from vibevoice_platform.bench.records import ErrorType, RequestError, RequestRecord
from vibevoice_platform.bench.stats import (
    paired_bootstrap_difference,
    paired_ratio_interval,
    wilcoxon_greater,
)

N = 100


def machine(seed: int = 3) -> np.ndarray:
    """What both sides of each pair share: a machine whose speed swings by 2.7x within the run (a log
    standard deviation of 1; measured here between two runs of one build: 0.31)."""
    return np.random.default_rng(seed).lognormal(np.log(40.0), 1.0, N)


def sides(factor: float, seed: int = 4) -> tuple[list[float], list[float]]:
    """A pair's two TTFAs: the machine's moment, each side's own small noise, the current `factor` slower."""
    rng = np.random.default_rng(seed)
    shared = machine()
    baseline = shared * rng.lognormal(0.0, 0.04, N)
    current = shared * factor * rng.lognormal(0.0, 0.04, N)
    return [float(v) for v in baseline], [float(v) for v in current]


def judged(factor: float, *, paired: bool, method: Method = Method.BOOTSTRAP) -> Comparison:
    baseline, current = sides(factor)
    pairs = {"ttfa_ms": (baseline, current), "e2e_latency_ms": (baseline, current)} if paired else None
    return compare(make_results(baseline), make_results(current), Policy(method=method), pairs=pairs)


def ttfa(comparison: Comparison) -> CheckResult:
    return next(c for c in comparison.checks if (c.metric, c.statistic) == ("ttfa_ms", "p50"))


@pytest.mark.parametrize("method", list(Method))
def test_a_25_percent_regression_under_a_swinging_machine_is_caught_only_paired(method: Method) -> None:
    alone = ttfa(judged(1.25, paired=False, method=method))
    assert alone.verdict is Verdict.PASS  # the machine's swings hide it from two independent samples
    assert "not significant" in alone.reason
    together = ttfa(judged(1.25, paired=True, method=method))
    assert together.verdict is Verdict.FAIL
    assert together.significant
    assert together.relative == pytest.approx(0.25, abs=0.05)
    assert "of the pairs" in together.reason or "Wilcoxon" in together.reason


def test_an_unchanged_build_passes_paired() -> None:
    comparison = judged(1.0, paired=True)
    assert comparison.verdict is Verdict.PASS
    assert comparison.pairs == N
    assert ttfa(comparison).verdict is Verdict.PASS


def test_the_paired_tests_see_the_noise_within_the_pairs_only() -> None:
    baseline, current = sides(1.05)
    assert wilcoxon_greater(baseline, current) < 1e-6
    assert wilcoxon_greater(current, baseline) > 0.5
    ratio = paired_ratio_interval(baseline, current, confidence=0.99, seed=1)
    assert 1.0 < ratio.low < 1.05 < ratio.high < 1.1
    apart = paired_bootstrap_difference(baseline, current, "p50", confidence=0.99, seed=1)
    assert apart.low < 0  # the difference of the two medians still moves with the machine
    assert wilcoxon_greater(baseline, baseline) == 1.0  # no pair differs: no evidence either way
    with pytest.raises(ValueError, match="same length"):
        wilcoxon_greater(baseline, current[:-1])
    with pytest.raises(ValueError, match="same length"):
        paired_bootstrap_difference(baseline, current[:-1], "p50")
    with pytest.raises(ValueError, match="positive"):
        paired_ratio_interval([1.0, 0.0], [1.0, 1.0])


def record(index: int, ttfa: float | None, *, cpu: float | None = None) -> RequestRecord:
    if ttfa is None:
        error = RequestError(type=ErrorType.TIMEOUT, message="no answer")
        return RequestRecord(index=index, utterance="u", chars=1, offset_s=0.0, ok=False, error=error)
    extra = {"server_ttfa_ms": ttfa / 2} if cpu is None else {}
    return RequestRecord(
        index=index, utterance="u", chars=1, offset_s=0.0, ok=True, ttfa_ms=ttfa,
        e2e_latency_ms=3 * ttfa, bytes=4800, chunks=1, extra=extra,
    )  # fmt: skip


def test_pairs_are_joined_on_their_index_where_both_sides_succeeded() -> None:
    started = make_results([1.0]).run.started_at
    baseline = [record(0, 10.0), record(1, 11.0), record(2, None), record(3, 13.0)]
    current = [record(3, 23.0), record(0, 20.0), record(1, None), record(2, 22.0)]
    outcome = PairedOutcome(
        Outcome(baseline, started, 1.0, cpu_ms_per_request=[1.0, 2.0]),
        Outcome(current, started, 1.0, cpu_ms_per_request=[1.5, 2.5]),
    )
    pairs = pairs_of(outcome)
    assert pairs["ttfa_ms"] == ([10.0, 13.0], [20.0, 23.0])
    assert pairs["e2e_latency_ms"] == ([30.0, 39.0], [60.0, 69.0])
    assert pairs["server_ttfa_ms"] == ([5.0, 6.5], [10.0, 11.5])
    assert pairs["cpu_ms_per_request"] == ([1.0, 2.0], [1.5, 2.5])
    assert "rtf" not in pairs  # no record measured it
