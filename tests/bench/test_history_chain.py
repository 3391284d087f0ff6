"""Nights chained as the nightly chains them, through `vibevoice-bench compare` and its files.

Each night is gated against the last good night's baseline.json and the history.json the night
before wrote (a failing night writes its history too, marked, and no baseline). The runs are made of
fixed samples, so each verdict is decided by the gate alone; scripts/bench-noise.py measures the same
chain against a real service (how many nights of the unchanged build pass on this machine).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from tests.bench.factories import make_results, noisy
from vibevoice_platform.bench.cli import EXIT_OK, EXIT_REGRESSION, main
from vibevoice_platform.bench.history import load_history

POLICY = Path("policy.toml")


def chain(tmp_path: Path, centres: Sequence[float], policy: str | None = None) -> list[str]:
    """Each night's verdict: a night's TTFA samples are centred on its value (100 requests, a 5 %
    spread), the same build throughout, each on a machine of its own speed."""
    extra: list[str] = []
    if policy is not None:
        (tmp_path / POLICY).write_text(policy, encoding="utf-8")
        extra = ["--policy", str(tmp_path / POLICY)]
    baseline = tmp_path / "none" / "baseline.json"
    history = tmp_path / "none" / "history.json"
    verdicts: list[str] = []
    for night, centre in enumerate(centres):
        run = make_results(noisy(centre, 100, 500 + night), git_sha=f"{night:040x}")
        current = tmp_path / f"night-{night}.json"
        current.write_text(run.model_dump_json(), encoding="utf-8")
        out = tmp_path / f"night-{night}"
        argv = ["compare", "--baseline", str(baseline), "--history", str(history)]
        code = main([*argv, "--current", str(current), "--out", str(out), *extra])
        assert code in (EXIT_OK, EXIT_REGRESSION)
        verdicts.append(json.loads((out / "comparison.json").read_text())["verdict"])
        history = out / "history.json"  # every night's, as the gate promotes it
        if code == EXIT_OK:
            baseline = out / "baseline.json"
    return verdicts


def test_a_drifting_machine_passes_night_after_night(tmp_path: Path) -> None:
    # Steps of at most 14 %, 40 % between the fastest and the slowest night.
    verdicts = chain(tmp_path, [100, 114, 128, 140, 128, 114, 140])
    assert "fail" not in verdicts
    runs = load_history(tmp_path / "night-6" / "history.json").runs
    assert len(runs) == 7
    assert all(run.passed for run in runs)


def test_a_fast_night_no_longer_fails_the_nights_after_it(tmp_path: Path) -> None:
    """The weakness of the last round: night 2 ran on a fast machine and became the baseline; night 3,
    30 % slower than it, failed, never joined the history, and so every later night failed too."""
    verdicts = chain(tmp_path, [30, 30, 21, 30, 30, 30, 30, 30])
    assert verdicts[:3] == ["pass", "pass", "pass"]  # 21 is an improvement: it becomes the baseline
    assert verdicts[3] == "warn"  # worse than the baseline, but at the median of the past runs
    assert "fail" not in verdicts
    reason = json.loads((tmp_path / "night-3" / "comparison.json").read_text())["checks"][0]["reason"]
    assert "the baseline was the odd one out" in reason


def test_a_fast_first_night_holds_the_chain_up_for_one_night(tmp_path: Path) -> None:
    """With only the fast night in the history, its median is that night: the next one fails, joins
    the history marked, and the median of the two lets the third one through."""
    verdicts = chain(tmp_path, [21, 30, 30, 30, 30, 30])
    assert verdicts[1] == "fail"
    assert "fail" not in verdicts[2:]
    runs = load_history(tmp_path / "night-1" / "history.json").runs
    assert [run.passed for run in runs] == [True, False]


def test_a_regression_fails_every_night_once_the_history_is_mature(tmp_path: Path) -> None:
    """Failing nights join the history but never its spread: a mature history cannot absorb them."""
    verdicts = chain(tmp_path, [30] * 6 + [45] * 12)
    assert verdicts[:6] == ["pass"] * 6
    assert verdicts[6:] == ["fail"] * 12


def test_a_regression_in_a_young_history_fails_as_many_nights_as_it_had_passed(tmp_path: Path) -> None:
    """The bound on the other side: before `min_runs` passing runs, the median of every past run,
    failing ones included, is the reference, so a lasting regression becomes the median once it has
    failed as many nights as there were before it."""
    verdicts = chain(tmp_path, [30, 30, 42, 42, 42, 42, 42])
    assert verdicts[:2] == ["pass", "pass"]
    assert verdicts[2:4] == ["fail", "fail"]
    assert "fail" not in verdicts[4:]
