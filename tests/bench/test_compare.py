"""The regression verdicts: thresholds, significance, error rate, missing baseline."""

from __future__ import annotations

import pytest

from tests.bench.factories import make_results, noisy
from vibevoice_platform.bench.compare import Verdict, compare, compare_check
from vibevoice_platform.bench.policy import Check, Method, Policy


def _verdicts(policy: Policy, baseline_ttfa: list[float], current_ttfa: list[float]) -> dict[str, Verdict]:
    comparison = compare(make_results(baseline_ttfa), make_results(current_ttfa), policy)
    return {f"{c.metric} {c.statistic}": c.verdict for c in comparison.checks}


@pytest.mark.parametrize("method", list(Method))
def test_two_runs_of_one_build_pass(method: Method) -> None:
    policy = Policy(method=method)
    for seed in range(5):
        comparison = compare(
            make_results(noisy(40, 100, seed)), make_results(noisy(40, 100, seed + 100)), policy
        )
        assert comparison.verdict is Verdict.PASS, [c.reason for c in comparison.checks]


@pytest.mark.parametrize("method", list(Method))
def test_four_times_slower_ttfa_fails(method: Method) -> None:
    comparison = compare(
        make_results(noisy(40, 50, 1)), make_results(noisy(160, 50, 2)), Policy(method=method)
    )
    assert comparison.verdict is Verdict.FAIL
    ttfa = next(c for c in comparison.checks if c.metric == "ttfa_ms" and c.statistic == "p50")
    assert ttfa.verdict is Verdict.FAIL
    assert ttfa.significant
    assert ttfa.relative == pytest.approx(3.0, rel=0.1)
    assert "significant" in ttfa.reason


def test_a_moderate_real_slowdown_warns() -> None:
    verdicts = _verdicts(Policy(), noisy(100, 200, 1, 0.02), noisy(115, 200, 2, 0.02))
    assert verdicts["ttfa_ms p50"] is Verdict.WARN  # +15 %: past warn (10 %), short of fail (20 %)


def test_a_consistent_quarter_slower_first_audio_fails() -> None:
    """The goal of the sensitivity sweep: a 1.25x TTFA regression is past the default fail threshold."""
    verdicts = _verdicts(Policy(), noisy(100, 200, 1, 0.05), noisy(125, 200, 2, 0.05))
    assert verdicts["ttfa_ms p50"] is Verdict.FAIL


def test_a_large_change_that_is_not_significant_passes_as_noise() -> None:
    # three wildly spread samples a side: the medians differ by 50 % but nothing is certain
    check = Check(metric="ttfa_ms", statistic="p50", warn=0.1, fail=0.2, floor=0.0)
    result = compare_check(check, [10.0, 100.0, 1000.0], [5.0, 150.0, 900.0], Policy(tail_samples=1), "ms")
    assert result.relative == pytest.approx(0.5)
    assert result.verdict is Verdict.PASS
    assert result.significant is False
    assert "not significant" in result.reason


def test_a_significant_change_below_the_floor_passes() -> None:
    # +25 % of 4 ms is 1 ms: significant, past the relative limits, but under the 5 ms floor
    verdicts = _verdicts(Policy(), noisy(4, 200, 1, 0.01), noisy(5, 200, 2, 0.01))
    assert verdicts["ttfa_ms p50"] is Verdict.PASS


def test_a_real_speed_up_is_reported_as_improved() -> None:
    comparison = compare(make_results(noisy(100, 100, 1)), make_results(noisy(50, 100, 2)), Policy())
    assert comparison.verdict is Verdict.PASS
    assert {c.verdict for c in comparison.checks} == {Verdict.IMPROVED}


def test_lower_is_worse_checks_gate_the_other_way() -> None:
    check = Check(metric="audio_seconds", statistic="p50", warn=0.1, fail=0.2, worse="lower")
    base, cur = noisy(10, 100, 1, 0.01), noisy(5, 100, 2, 0.01)
    assert compare_check(check, base, cur, Policy(), "s").verdict is Verdict.FAIL
    assert compare_check(check, cur, base, Policy(), "s").verdict is Verdict.IMPROVED


def test_the_error_rate_fails_past_its_limit_whatever_the_latency() -> None:
    same = noisy(40, 100, 1)
    comparison = compare(make_results(same), make_results(same, failures=5), Policy())
    assert comparison.error_rate.verdict is Verdict.FAIL
    assert comparison.error_rate.current == pytest.approx(5 / 105)
    assert comparison.verdict is Verdict.FAIL


def test_a_few_errors_under_the_fail_limit_warn() -> None:
    same = noisy(40, 200, 1)
    comparison = compare(make_results(same), make_results(same, failures=1), Policy())
    assert comparison.error_rate.verdict is Verdict.WARN
    assert comparison.verdict is Verdict.WARN


def test_a_dead_service_fails_and_its_checks_are_skipped() -> None:
    comparison = compare(make_results(noisy(40, 50, 1)), make_results([], failures=50), Policy())
    assert comparison.verdict is Verdict.FAIL
    assert comparison.error_rate.current == 1.0
    assert {c.verdict for c in comparison.checks} == {Verdict.SKIPPED}
    assert all("no ttfa_ms samples in this run" in c.reason or "e2e" in c.reason for c in comparison.checks)


def test_no_baseline_passes_and_says_so() -> None:
    comparison = compare(None, make_results(noisy(40, 20, 1)), Policy())
    assert comparison.verdict is Verdict.PASS
    assert comparison.baseline_created
    assert comparison.baseline is None
    assert all(c.verdict is Verdict.SKIPPED and c.current is not None for c in comparison.checks)
    assert any("new baseline" in note for note in comparison.notes)


def test_different_settings_warn_and_are_named() -> None:
    same = noisy(40, 100, 1)
    comparison = compare(
        make_results(same, concurrency=1, cpu_model="Old CPU"), make_results(same, concurrency=4), Policy()
    )
    assert comparison.verdict is Verdict.WARN
    assert "concurrency differs: baseline 1, this run 4" in comparison.notes
    assert any("different CPU" in note for note in comparison.notes)


def test_tail_statistics_need_enough_samples_to_be_judged() -> None:
    comparison = compare(make_results(noisy(40, 60, 1)), make_results(noisy(160, 60, 2)), Policy())
    verdicts = {f"{c.metric} {c.statistic}": (c.verdict, c.reason) for c in comparison.checks}
    assert verdicts["ttfa_ms p50"][0] is Verdict.FAIL
    assert verdicts["ttfa_ms p95"] == (Verdict.SKIPPED, "too few samples to judge p95: 60 < 100")


def test_a_slower_machine_is_pointed_out() -> None:
    same = noisy(40, 100, 1)
    baseline = make_results(same, cpu_probe_ms=10.0)
    notes = compare(baseline, make_results(same, cpu_probe_ms=13.5), Policy()).notes
    assert notes == [
        "this machine ran the CPU probe 35% slower than the baseline's (13.5 ms vs 10.0 ms): "
        "CPU-bound latencies move with it"
    ]
    assert compare(baseline, make_results(same, cpu_probe_ms=10.9), Policy()).notes == []
    assert "20% faster" in compare(baseline, make_results(same, cpu_probe_ms=8.0), Policy()).notes[0]


def test_a_probe_difference_within_the_probes_own_spread_is_not_pointed_out() -> None:
    same = noisy(40, 100, 1)
    noisy_baseline = make_results(same, cpu_probe_ms=10.0, cpu_probe_spread=0.45)
    faster = make_results(same, cpu_probe_ms=7.2, cpu_probe_spread=0.1)  # 28 % faster: within 45 %
    assert compare(noisy_baseline, faster, Policy()).notes == []
    steady_baseline = make_results(same, cpu_probe_ms=10.0, cpu_probe_spread=0.05)
    assert compare(steady_baseline, faster, Policy()).notes == [
        "this machine ran the CPU probe 28% faster than the baseline's (7.2 ms vs 10.0 ms; the probe's "
        "own spread: 10% here, 5% in the baseline's run): CPU-bound latencies move with it"
    ]
