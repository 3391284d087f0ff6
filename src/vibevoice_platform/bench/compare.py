"""Comparing a run with a baseline: one verdict per gated statistic, one for the error rate, one overall.

A statistic regresses only when its change is past the threshold, max(relative x baseline, floor), AND
the samples say the change is real (the policy's significance test). A change past the threshold that
the test cannot tell from noise passes, with the reason given, so a noisy runner does not fail a build
that did not change; a large, consistent slowdown fails.

Given the history of past runs (history.py) with at least `min_runs` passing runs of this scenario,
a warning or failure also has to be beyond the run-to-run spread those runs show: a statistic within
median + k x MAD of its past values is noise of the machine, not of the code, and passes, saying so.

A younger history has no spread to trust yet, but its median says more than the last run alone: a
failure whose statistic is within the check's fail threshold of the median of every past run of the
scenario (passing or not) is only a warning. Without that, a fast night that became the baseline
failed the nights after it, and a failing night never joined the history, so the chain could not grow
out of it (scripts/bench-noise.py: it passed 3 of 8 nights in one sweep). Without a history the
verdicts are exactly those of the test alone.

Given pairs (`run --against`: the two targets measured interleaved, paired.py), each statistic is
still judged on its thresholds, and the test is the paired one: the bootstrap resamples pairs and the
rank test is Wilcoxon's signed-rank test, so the noise is that of the differences within the pairs.
"""

from __future__ import annotations

import enum
import statistics as pystats
from collections.abc import Mapping, Sequence
from datetime import datetime

from pydantic import BaseModel

from vibevoice_platform.bench.history import History, HistoryEntry, past_values, series, spread
from vibevoice_platform.bench.policy import Check, Method, Policy
from vibevoice_platform.bench.results import Results
from vibevoice_platform.bench.stats import (
    Interval,
    bootstrap_difference,
    mann_whitney_greater,
    paired_bootstrap_difference,
    paired_ratio_interval,
    samples_needed,
    statistic,
    wilcoxon_greater,
)
from vibevoice_platform.bench.wording import counted

CENTRE_STATISTICS = ("p50", "avg")  # judged, when paired, on the pairs' typical ratio


class Verdict(enum.StrEnum):
    """The outcome of one check, or of the whole comparison."""

    PASS = "pass"  # noqa: S105 (a verdict, not a password)
    IMPROVED = "improved"
    WARN = "warn"
    FAIL = "fail"
    SKIPPED = "skipped"


class PastRuns(BaseModel):
    """One statistic across the past runs of the history: the spread noise may reach."""

    runs: int
    median: float
    mad: float  # scaled to a standard deviation
    limit: float  # median + k x mad, in the worse direction
    within: bool  # this run's value is no worse than the limit


class CheckResult(BaseModel):
    """One gated statistic compared."""

    metric: str
    statistic: str
    unit: str
    baseline: float | None
    current: float | None
    change: float | None  # current - baseline
    relative: float | None  # change / baseline
    warn_at: float | None  # the absolute change (in the worse direction) that warns
    fail_at: float | None
    p_value: float | None  # one-sided Mann-Whitney U (Wilcoxon signed-rank when paired), worse direction
    interval: tuple[float, float] | None  # bootstrap interval of current - baseline (of pairs when paired)
    significant: bool | None  # by the policy's method, in the direction of the change
    verdict: Verdict
    reason: str
    history: PastRuns | None = None  # None: no usable history for this statistic


class ErrorRateResult(BaseModel):
    """The current error rate against the policy's absolute limits."""

    baseline: float | None
    current: float
    warn: float
    fail: float
    verdict: Verdict
    reason: str


class RunRef(BaseModel):
    """Which run a side of the comparison is."""

    git_sha: str | None
    started_at: datetime
    requests: int
    concurrency: int
    engine: str | None


class Comparison(BaseModel):
    """The whole of comparison.json."""

    verdict: Verdict
    baseline_created: bool
    baseline: RunRef | None
    current: RunRef
    checks: list[CheckResult]
    error_rate: ErrorRateResult
    throughput_rps: tuple[float | None, float]  # (baseline, current), reported, not gated
    notes: list[str]
    policy: Policy
    history_runs: int | None = None  # past passing runs of this scenario in the history; None: no history
    pairs: int | None = None  # an A/B run's pairs (of TTFA); None: two separate runs


def _ref(results: Results) -> RunRef:
    run = results.run
    return RunRef(
        git_sha=run.git_sha,
        started_at=run.started_at,
        requests=results.requests,
        concurrency=run.concurrency,
        engine=run.engine,
    )


def compare_check(
    check: Check,
    baseline: Sequence[float],
    current: Sequence[float],
    policy: Policy,
    unit: str,
    *,
    paired: bool = False,
) -> CheckResult:
    """Judge one statistic of one metric; `paired`: `baseline[i]` and `current[i]` are a pair."""
    if not current or not baseline:
        side = "this run" if not current else "the baseline"
        return _unjudged(check, baseline, current, unit, f"no {check.metric} samples in {side}")
    needed = samples_needed(check.statistic, policy.tail_samples)
    if min(len(baseline), len(current)) < needed:
        reason = f"too few samples to judge {check.statistic}: {min(len(baseline), len(current))} < {needed}"
        return _unjudged(check, baseline, current, unit, reason)
    base = statistic(baseline, check.statistic)
    cur = statistic(current, check.statistic)
    change = cur - base
    sign = 1.0 if check.worse == "higher" else -1.0
    worse_by = sign * change  # > 0: a regression of this size; < 0: an improvement
    warn_at = max(check.warn * abs(base), check.floor)
    fail_at = max(check.fail * abs(base), check.floor)
    low, high = _interval(baseline, current, check, policy, paired=paired)
    # rank_test(a, b) tests "b tends to be larger than a"; larger is worse when higher is
    rank_test = wilcoxon_greater if paired else mann_whitney_greater
    ordered = (baseline, current) if sign > 0 else (current, baseline)
    p_worse = rank_test(*ordered)
    if policy.method is Method.MANN_WHITNEY:
        p_better = rank_test(ordered[1], ordered[0])
        worse_real, better_real = p_worse < policy.alpha, p_better < policy.alpha
    else:
        worse_real = (low > 0) if sign > 0 else (high < 0)
        better_real = (high < 0) if sign > 0 else (low > 0)
    verdict, reason = _judge(
        worse_by=worse_by, warn_at=warn_at, fail_at=fail_at, worse_real=worse_real,
        better_real=better_real, test=_test_name(policy, p_worse, paired=paired), unit=unit,
    )  # fmt: skip
    return CheckResult(
        metric=check.metric,
        statistic=check.statistic,
        unit=unit,
        baseline=base,
        current=cur,
        change=change,
        relative=change / base if base else None,
        warn_at=warn_at,
        fail_at=fail_at,
        p_value=p_worse,
        interval=(low, high),
        significant=worse_real if worse_by >= 0 else better_real,
        verdict=verdict,
        reason=reason,
    )


def _interval(
    baseline: Sequence[float], current: Sequence[float], check: Check, policy: Policy, *, paired: bool
) -> tuple[float, float]:
    """The (1 - alpha) bootstrap interval of `current - baseline` in the statistic's unit. Paired, for
    a centre statistic (p50, avg) of positive values: the baseline's statistic times the interval of
    the pairs' typical ratio, minus one (stats.paired_ratio_interval); for a tail, the difference of
    the statistic over resampled pairs."""
    options = {"confidence": 1 - policy.alpha, "resamples": policy.resamples, "seed": policy.seed}
    positive = min(baseline) > 0 and min(current) > 0
    if paired and check.statistic in CENTRE_STATISTICS and positive:
        ratio = paired_ratio_interval(baseline, current, **options)
        base = statistic(baseline, check.statistic)
        return base * (ratio.low - 1), base * (ratio.high - 1)
    bootstrap = paired_bootstrap_difference if paired else bootstrap_difference
    interval: Interval = bootstrap(baseline, current, check.statistic, **options)
    return interval.low, interval.high


def _test_name(policy: Policy, p_worse: float, *, paired: bool) -> str:
    if policy.method is Method.BOOTSTRAP:
        return "bootstrap interval of the pairs" if paired else "bootstrap interval"
    return f"{'Wilcoxon signed-rank' if paired else 'Mann-Whitney'} p={p_worse:.3g}"


def _judge(
    *,
    worse_by: float,
    warn_at: float,
    fail_at: float,
    worse_real: bool,
    better_real: bool,
    test: str,
    unit: str,
) -> tuple[Verdict, str]:
    if worse_by > warn_at:
        level, limit = (Verdict.FAIL, fail_at) if worse_by > fail_at else (Verdict.WARN, warn_at)
        if worse_real:
            return level, f"worse by {worse_by:.4g} {unit}, past {limit:.4g} {unit}, significant ({test})"
        return Verdict.PASS, f"worse by {worse_by:.4g} {unit} but not significant ({test}): noise"
    if -worse_by > warn_at and better_real:
        return Verdict.IMPROVED, f"better by {-worse_by:.4g} {unit}, significant ({test})"
    return Verdict.PASS, f"within {warn_at:.4g} {unit}"


def compare_error_rate(baseline: Results | None, current: Results, policy: Policy) -> ErrorRateResult:
    """The current error rate against the absolute limits."""
    limits = policy.error_rate
    rate = current.error_rate
    if rate > limits.fail:
        verdict, reason = Verdict.FAIL, f"{rate:.2%} of requests failed, above {limits.fail:.2%}"
    elif rate > limits.warn:
        verdict, reason = Verdict.WARN, f"{rate:.2%} of requests failed, above {limits.warn:.2%}"
    else:
        verdict, reason = Verdict.PASS, f"{rate:.2%} of requests failed"
    return ErrorRateResult(
        baseline=baseline.error_rate if baseline else None,
        current=rate,
        warn=limits.warn,
        fail=limits.fail,
        verdict=verdict,
        reason=reason,
    )


def mismatches(baseline: Results, current: Results) -> list[str]:
    """Settings that differ between the runs and make the comparison less than like for like."""
    notes: list[str] = []
    for field in ("target", "protocol", "concurrency", "corpus", "engine", "model", "voice"):
        old, new = getattr(baseline.run, field), getattr(current.run, field)
        if old != new:
            notes.append(f"{field} differs: baseline {old!r}, this run {new!r}")
    return notes


PROBE_TOLERANCE = 0.15


def machine_notes(baseline: Results, current: Results) -> list[str]:
    """How this run's machine differs from the baseline's: CPU, GPU, speed on a fixed probe."""
    old, new = baseline.testbed, current.testbed
    notes = [
        f"different {name}: baseline {a!r}, this run {b!r}"
        for name, a, b in (("CPU", old.cpu_model, new.cpu_model), ("GPU", old.gpu, new.gpu))
        if a != b
    ]
    if old.cpu_probe_ms and new.cpu_probe_ms:
        ratio = new.cpu_probe_ms / old.cpu_probe_ms
        # A difference within the probe's own noise (its spread in either run) says nothing.
        spreads = [s for s in (old.cpu_probe_spread, new.cpu_probe_spread) if s is not None]
        if abs(ratio - 1) > max([PROBE_TOLERANCE, *spreads]):
            pace = f"{ratio - 1:.0%} slower" if ratio > 1 else f"{1 - ratio:.0%} faster"
            noise = (
                f"; the probe's own spread: {new.cpu_probe_spread:.0%} here, {old.cpu_probe_spread:.0%} "
                "in the baseline's run"
                if new.cpu_probe_spread is not None and old.cpu_probe_spread is not None
                else ""
            )
            notes.append(
                f"this machine ran the CPU probe {pace} than the baseline's ({new.cpu_probe_ms:.1f} ms vs "
                f"{old.cpu_probe_ms:.1f} ms{noise}): CPU-bound latencies move with it"
            )
    return notes


def within_history(
    result: CheckResult, check: Check, past: Sequence[HistoryEntry], policy: Policy
) -> CheckResult:
    """`result` judged against the spread of the statistic over the past runs: a warning or failure
    that stays within it is noise and passes; any other verdict stands, with the spread recorded."""
    values = past_values(past, check.metric, check.statistic)
    if result.current is None or result.verdict is Verdict.SKIPPED or len(values) < policy.history.min_runs:
        return result
    noise = spread(values, policy.history.k, check.worse)
    within = noise.contains(result.current, check.worse)
    recorded = PastRuns(runs=noise.runs, median=noise.median, mad=noise.mad, limit=noise.limit, within=within)
    if result.verdict not in (Verdict.WARN, Verdict.FAIL):
        return result.model_copy(update={"history": recorded})
    where = (
        f"the spread of {counted(noise.runs, 'past run')} (median {noise.median:.4g}, "
        f"limit {noise.limit:.4g} {result.unit})"
    )
    if within:
        return result.model_copy(
            update={
                "history": recorded,
                "verdict": Verdict.PASS,
                "reason": f"{result.reason}, but within {where}: machine noise",
            }
        )
    return result.model_copy(update={"history": recorded, "reason": f"{result.reason}, beyond {where}"})


def within_median(result: CheckResult, check: Check, past: Sequence[HistoryEntry]) -> CheckResult:
    """A failure of a young history's run judged again against the median of every past run: within
    the check's fail threshold of it, the baseline was the odd one out, and the run only warns."""
    values = past_values(past, check.metric, check.statistic)
    if result.verdict is not Verdict.FAIL or result.current is None or not values:
        return result
    median = pystats.median(values)
    worse_by = (result.current - median) * (1.0 if check.worse == "higher" else -1.0)
    limit = max(check.fail * abs(median), check.floor)
    if worse_by > limit:
        return result
    return result.model_copy(
        update={
            "verdict": Verdict.WARN,
            "reason": f"{result.reason}, but within {limit:.4g} {result.unit} of the median of "
            f"{counted(len(values), 'past run')} ({median:.4g} {result.unit}): the baseline was the odd "
            "one out",
        }
    )


def _history_note(history: History, past: Sequence[HistoryEntry], passing: int, policy: Policy) -> str:
    limits = policy.history
    if passing >= limits.min_runs:
        return (
            f"Run-to-run spread: {counted(passing, 'past passing run')} of this scenario; a change also "
            f"has to go beyond their median + {limits.k:g} x MAD to count."
        )
    return (
        f"History: {counted(len(past), 'past run')} of this scenario, {passing} passing "
        f"({counted(len(history.runs), 'run')} in the file); the run-to-run spread is used from "
        f"{counted(limits.min_runs, 'passing run')} on, and until then a failure within the fail "
        "threshold of the past runs' median only warns."
    )


def _check(
    check: Check,
    baseline: Results | None,
    current: Results,
    policy: Policy,
    *,
    pairs: Mapping[str, tuple[Sequence[float], Sequence[float]]] | None,
    past: Sequence[HistoryEntry],
    passing: Sequence[HistoryEntry],
) -> CheckResult | None:
    """One check judged (None for a metric neither run measured: the CPU figure of a remote run
    without /metrics), with the history's spread once it has `min_runs` passing runs, its median before."""
    if all(check.metric not in run.metrics for run in (baseline, current) if run is not None):
        return None
    summary = current.metrics.get(check.metric)
    unit = summary.unit if summary else ""
    current_samples = summary.samples if summary else []
    if baseline is None:
        return _unjudged(check, [], current_samples, unit, "no baseline yet")
    if pairs is not None:
        base_samples, current_samples = pairs.get(check.metric, ([], []))
    else:
        base_summary = baseline.metrics.get(check.metric)
        base_samples = base_summary.samples if base_summary else []
    judged = compare_check(check, base_samples, current_samples, policy, unit, paired=pairs is not None)
    if len(passing) >= policy.history.min_runs:
        return within_history(judged, check, passing, policy)
    return within_median(judged, check, past) if past else judged


def compare(
    baseline: Results | None,
    current: Results,
    policy: Policy,
    history: History | None = None,
    pairs: Mapping[str, tuple[Sequence[float], Sequence[float]]] | None = None,
) -> Comparison:
    """Compare `current` with `baseline` (and the spread of its past runs, given a history); with no
    baseline, `current` becomes it unless it fails its limits. With `pairs` (each metric's values,
    the baseline's then the current's, pair by pair) the checks are judged on them, paired."""
    notes: list[str] = []
    past = series(history, current) if history is not None else []
    passing = [entry for entry in past if entry.passed]
    checks = [
        judged
        for check in policy.checks
        if (judged := _check(check, baseline, current, policy, pairs=pairs, past=past, passing=passing))
        is not None
    ]
    error_rate = compare_error_rate(baseline, current, policy)
    differences = mismatches(baseline, current) if baseline is not None else []
    notes.extend(differences)
    if baseline is not None:
        notes.extend(machine_notes(baseline, current))
    if history is not None:
        notes.append(_history_note(history, past, len(passing), policy))
    verdicts = {c.verdict for c in checks} | {error_rate.verdict}
    if Verdict.FAIL in verdicts:
        verdict = Verdict.FAIL
    elif Verdict.WARN in verdicts or differences:
        verdict = Verdict.WARN
    else:
        verdict = Verdict.PASS
    if baseline is None:
        notes.append(
            "No baseline: this run is stored as the new baseline."
            if verdict is not Verdict.FAIL
            else "No baseline, and this run failed its limits: it is not stored as the baseline."
        )
    return Comparison(
        verdict=verdict,
        baseline_created=baseline is None and verdict is not Verdict.FAIL,
        baseline=_ref(baseline) if baseline else None,
        current=_ref(current),
        checks=checks,
        error_rate=error_rate,
        throughput_rps=(baseline.throughput_rps if baseline else None, current.throughput_rps),
        notes=notes,
        policy=policy,
        history_runs=len(passing) if history is not None else None,
        pairs=len(pairs.get("ttfa_ms", ([], []))[0]) if pairs is not None else None,
    )


def _unjudged(
    check: Check, baseline: Sequence[float], current: Sequence[float], unit: str, reason: str
) -> CheckResult:
    return CheckResult(
        metric=check.metric, statistic=check.statistic, unit=unit,
        baseline=statistic(baseline, check.statistic) if baseline else None,
        current=statistic(current, check.statistic) if current else None,
        change=None, relative=None, warn_at=None, fail_at=None, p_value=None, interval=None,
        significant=None, verdict=Verdict.SKIPPED, reason=reason,
    )  # fmt: skip
