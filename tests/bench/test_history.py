"""The run-to-run spread of past runs (history.json): how it widens what counts as noise, and only that."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.bench.factories import make_results, noisy
from vibevoice_platform.bench.cli import EXIT_ERROR, EXIT_OK, EXIT_REGRESSION, main
from vibevoice_platform.bench.compare import CheckResult, Comparison, Verdict, compare
from vibevoice_platform.bench.history import (
    MAD_TO_SIGMA,
    History,
    HistoryError,
    appended,
    entry_for,
    load_history,
    spread,
)
from vibevoice_platform.bench.policy import HistoryLimits, Policy, PolicyError, load_policy
from vibevoice_platform.bench.report import summary_markdown
from vibevoice_platform.bench.results import Results

# The TTFA p50 of six past nights on a runner whose speed moves by up to 40 %.
NIGHTS = (25.0, 30.0, 35.0, 25.0, 30.0, 35.0)


def history_of(centres: Sequence[float], *, concurrency: int = 4, first: int = 0) -> History:
    """A history of one run per centre, each a distinct commit (numbered from `first`), oldest first."""
    history = History()
    for n, centre in enumerate(centres, start=first):
        run = make_results(noisy(centre, 100, 1000 + n), concurrency=concurrency, git_sha=f"{n:040x}")
        history = appended(history, entry_for(run), max_runs=30)
    return history


def check(comparison: Comparison, metric: str = "ttfa_ms", statistic: str = "p50") -> CheckResult:
    return next(c for c in comparison.checks if (c.metric, c.statistic) == (metric, statistic))


FAST = make_results(noisy(25, 100, 1))  # the baseline: a night on a fast machine
SLOWER_MACHINE = make_results(noisy(35, 100, 2))  # the same build on a machine 40 % slower
FOUR_TIMES = make_results(noisy(100, 100, 3))  # a real regression


def test_the_spread_is_the_median_plus_k_scaled_mads() -> None:
    noise = spread(NIGHTS, 3.0, "higher")
    assert noise.median == 30.0
    assert noise.mad == pytest.approx(5.0 * MAD_TO_SIGMA)
    assert noise.limit == pytest.approx(30.0 + 3 * 5.0 * MAD_TO_SIGMA)
    assert noise.contains(52.0, "higher")
    assert not noise.contains(53.0, "higher")
    lower = spread(NIGHTS, 2.0, "lower")  # for a metric where lower is worse (a throughput)
    assert lower.limit == pytest.approx(30.0 - 2 * 5.0 * MAD_TO_SIGMA)
    assert lower.contains(20.0, "lower")
    assert not lower.contains(10.0, "lower")
    with pytest.raises(ValueError, match="at least one"):
        spread([], 3.0, "higher")


def test_one_odd_night_barely_moves_the_spread() -> None:
    steady = spread([30.0, 31.0, 29.0, 30.0, 30.5, 29.5], 3.0, "higher")
    with_outlier = spread([30.0, 31.0, 29.0, 30.0, 30.5, 29.5, 300.0], 3.0, "higher")
    assert with_outlier.limit < 40.0
    assert with_outlier.limit == pytest.approx(steady.limit, rel=0.1)


def test_a_40_percent_slower_machine_fails_without_history_and_passes_with_it() -> None:
    alone = compare(FAST, SLOWER_MACHINE, Policy())
    assert alone.verdict is Verdict.FAIL  # the first phase's weakness: each run is consistent
    assert alone.history_runs is None

    judged = compare(FAST, SLOWER_MACHINE, Policy(), history_of(NIGHTS))
    assert judged.verdict is Verdict.PASS, [c.reason for c in judged.checks]
    assert judged.history_runs == len(NIGHTS)
    ttfa = check(judged)
    assert ttfa.verdict is Verdict.PASS
    assert ttfa.significant  # still a real difference between the runs
    assert "but within the spread of 6 past runs" in ttfa.reason
    assert ttfa.reason.endswith("machine noise")
    assert ttfa.history is not None
    assert ttfa.history.within
    assert ttfa.history.median == pytest.approx(30.0, rel=0.05)


def test_a_four_times_slower_ttfa_still_fails_with_history() -> None:
    judged = compare(FAST, FOUR_TIMES, Policy(), history_of(NIGHTS))
    assert judged.verdict is Verdict.FAIL
    ttfa = check(judged)
    assert ttfa.verdict is Verdict.FAIL
    assert "beyond the spread of 6 past runs" in ttfa.reason
    assert ttfa.history is not None
    assert ttfa.history.within is False


def _without_history(comparison: Comparison) -> dict[str, object]:
    document = comparison.model_dump(exclude={"history_runs", "notes"})
    for item in document["checks"]:
        item.pop("history")
    return document


@pytest.mark.parametrize(
    "history", [History(), history_of(NIGHTS, concurrency=1)], ids=["empty", "another-concurrency"]
)
@pytest.mark.parametrize("current", [SLOWER_MACHINE, FOUR_TIMES, make_results(noisy(25, 100, 9))])
def test_without_a_usable_history_the_verdicts_are_those_of_the_test_alone(
    history: History, current: Results
) -> None:
    before = compare(FAST, current, Policy())
    after = compare(FAST, current, Policy(), history)
    assert _without_history(after) == _without_history(before)
    assert all(c.history is None for c in after.checks)
    assert after.notes[:-1] == before.notes
    assert after.notes[-1].startswith("History: ")
    assert "the run-to-run spread is used from 5 passing runs on" in after.notes[-1]


def test_only_past_runs_of_the_same_scenario_count() -> None:
    mixed = history_of(NIGHTS, concurrency=1)
    for entry in history_of(NIGHTS[:3], first=100).runs:
        mixed = appended(mixed, entry, max_runs=30)
    judged = compare(FAST, SLOWER_MACHINE, Policy(), mixed)
    assert judged.history_runs == 3
    assert all(c.history is None for c in judged.checks)  # 3 runs: no spread yet, only their median
    assert "median of 3 past runs" in check(judged).reason
    assert "3 past runs of this scenario, 3 passing (9 runs in the file)" in judged.notes[-1]


def test_one_past_run_is_counted_in_the_singular() -> None:
    judged = compare(FAST, SLOWER_MACHINE, Policy(), history_of(NIGHTS[2:3]))
    assert "median of 1 past run (" in check(judged).reason
    assert "History: 1 past run of this scenario, 1 passing (1 run in the file)" in judged.notes[-1]
    summary = summary_markdown(judged, SLOWER_MACHINE, None)
    assert "1 past runs" not in summary
    assert "1 runs" not in summary


def test_a_passing_check_records_the_spread_and_keeps_its_verdict() -> None:
    judged = compare(FAST, make_results(noisy(25, 100, 9)), Policy(), history_of(NIGHTS))
    ttfa = check(judged)
    assert ttfa.verdict is Verdict.PASS
    assert ttfa.history is not None
    assert ttfa.history.runs == 6
    assert "spread" not in ttfa.reason


def test_k_sets_how_wide_the_noise_is() -> None:
    narrow = Policy(history=HistoryLimits(k=0.5))
    assert compare(FAST, SLOWER_MACHINE, narrow, history_of(NIGHTS)).verdict is Verdict.FAIL


def test_a_statistic_the_history_lacks_is_judged_by_the_test_alone() -> None:
    history = History(
        runs=[e.model_copy(update={"stats": {}}) for e in history_of(NIGHTS).runs]  # recorded nothing
    )
    judged = compare(FAST, SLOWER_MACHINE, Policy(), history)
    assert judged.history_runs == 6
    assert judged.verdict is Verdict.FAIL
    assert all(c.history is None for c in judged.checks)


def test_entries_hold_the_standard_statistics_and_the_policys_own() -> None:
    entry = entry_for(FAST, ["p75", "p50"])
    assert set(entry.stats["ttfa_ms"]) == {"avg", "p50", "p90", "p95", "p99", "p75"}
    assert entry.stats["ttfa_ms"]["p50"] == pytest.approx(FAST.metrics["ttfa_ms"].p50)
    assert (entry.target, entry.protocol, entry.concurrency, entry.engine) == ("tts", "http", 4, "sine")
    assert entry.error_rate == 0.0


def test_the_history_is_bounded_and_a_run_is_recorded_once() -> None:
    history = history_of(range(10, 20))
    assert len(appended(history, entry_for(FAST), max_runs=5).runs) == 5
    kept = appended(history, entry_for(FAST), max_runs=5)
    assert kept.runs[-1] == entry_for(FAST)
    assert [r.git_sha for r in kept.runs[:-1]] == [f"{n:040x}" for n in range(6, 10)]
    again = appended(kept, entry_for(FAST), max_runs=5)
    assert again.runs == kept.runs


def test_the_policy_reads_its_history_limits(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text("[history]\nk = 4\nmin_runs = 3\nmax_runs = 10\n", encoding="utf-8")
    assert load_policy(path).history == HistoryLimits(k=4.0, min_runs=3, max_runs=10)
    assert Policy().history == HistoryLimits(k=3.0, min_runs=5, max_runs=30)
    path.write_text("[history]\nmin_runs = 8\nmax_runs = 4\n", encoding="utf-8")
    with pytest.raises(PolicyError, match=r"max_runs \(4\) is below min_runs \(8\)"):
        load_policy(path)
    path.write_text("[history]\nk = 0\n", encoding="utf-8")
    with pytest.raises(PolicyError, match=r"history\.k"):
        load_policy(path)


def test_the_summary_says_the_spread_was_used() -> None:
    judged = compare(FAST, SLOWER_MACHINE, Policy(), history_of(NIGHTS))
    summary = summary_markdown(judged, SLOWER_MACHINE, None)
    assert "and beyond the run-to-run spread of 6 past runs (median + 3 x MAD)." in summary
    assert "within the spread of 6 past runs" in summary
    plain = summary_markdown(compare(FAST, SLOWER_MACHINE, Policy()), SLOWER_MACHINE, None)
    assert "spread" not in plain


# -- the command line ------------------------------------------------------------------------------


def _write(path: Path, results: Results) -> Path:
    path.write_text(results.model_dump_json(), encoding="utf-8")
    return path


def _compare(tmp_path: Path, name: str, current: Results, *extra: str) -> tuple[int, Path]:
    out = tmp_path / name
    argv = ["compare", "--current", str(_write(tmp_path / f"{name}.json", current)), "--out", str(out)]
    return main([*argv, *extra]), out


def test_compare_starts_and_extends_the_history(tmp_path: Path) -> None:
    code, first = _compare(tmp_path, "first", FAST, "--history", str(tmp_path / "absent.json"))
    assert code == EXIT_OK
    assert [r.git_sha for r in load_history(first / "history.json").runs] == [FAST.run.git_sha]

    second_run = make_results(noisy(26, 100, 5), git_sha="f" * 40)
    code, second = _compare(
        tmp_path, "second", second_run,
        "--baseline", str(first / "baseline.json"), "--history", str(first / "history.json"),
    )  # fmt: skip
    assert code == EXIT_OK
    assert [r.git_sha for r in load_history(second / "history.json").runs] == [FAST.run.git_sha, "f" * 40]

    code, failed = _compare(
        tmp_path, "failed", FOUR_TIMES,
        "--baseline", str(second / "baseline.json"), "--history", str(second / "history.json"),
    )  # fmt: skip
    assert code == EXIT_REGRESSION
    assert not (failed / "baseline.json").exists()
    runs = load_history(failed / "history.json").runs  # it joins the history, marked: never the spread
    assert [(r.git_sha, r.passed) for r in runs[-1:]] == [(FOUR_TIMES.run.git_sha, False)]
    assert all(r.passed for r in runs[:-1])
    assert json.loads((failed / "comparison.json").read_text())["history_runs"] == 2


def test_compare_without_history_writes_none(tmp_path: Path) -> None:
    code, out = _compare(tmp_path, "plain", FAST)
    assert code == EXIT_OK
    assert not (out / "history.json").exists()
    assert json.loads((out / "comparison.json").read_text())["history_runs"] is None


def test_compare_with_a_history_lets_a_slower_machine_pass(tmp_path: Path) -> None:
    history = tmp_path / "history.json"
    history.write_text(history_of(NIGHTS).model_dump_json(), encoding="utf-8")
    baseline = str(_write(tmp_path / "baseline.json", FAST))
    code, _ = _compare(tmp_path, "alone", SLOWER_MACHINE, "--baseline", baseline)
    assert code == EXIT_REGRESSION
    code, out = _compare(
        tmp_path, "judged", SLOWER_MACHINE, "--baseline", baseline, "--history", str(history)
    )
    assert code == EXIT_OK
    assert len(load_history(out / "history.json").runs) == len(NIGHTS) + 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "is not a vibevoice-bench history file"),
        ('{"schema_version": 9, "runs": []}', "schema_version 9"),
        ('{"runs": [{"git_sha": null}]}', "runs.0.started_at: Field required"),
    ],
)
def test_a_corrupt_history_is_an_error_not_a_fresh_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    history = tmp_path / "history.json"
    history.write_text(content, encoding="utf-8")
    code, _ = _compare(tmp_path, "out", FAST, "--history", str(history))
    assert code == EXIT_ERROR
    assert message in capsys.readouterr().err
    assert history.read_text() == content
    with pytest.raises(HistoryError):
        load_history(history)


def test_a_policy_with_its_own_statistic_is_recorded_for_it(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text("[[checks]]\nmetric = 'ttfa_ms'\nstatistic = 'p75'\n", encoding="utf-8")
    code, out = _compare(
        tmp_path, "out", FAST, "--history", str(tmp_path / "h.json"), "--policy", str(policy)
    )
    assert code == EXIT_OK
    assert "p75" in load_history(out / "history.json").runs[0].stats["ttfa_ms"]
