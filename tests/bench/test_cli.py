"""`vibevoice-bench` command lines: exit codes, files written, errors explained."""

from __future__ import annotations

import json
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bench.factories import make_results, noisy, parse_svg
from vibevoice_platform.bench.cli import EXIT_ERROR, EXIT_OK, EXIT_REGRESSION, main
from vibevoice_platform.bench.drivers import Protocol, Target, UnsupportedScenario, driver_for
from vibevoice_platform.bench.results import Results, load_results


def _write(path: Path, results: Results) -> Path:
    path.write_text(results.model_dump_json(), encoding="utf-8")
    return path


def test_every_target_and_protocol_has_a_driver_or_a_reason() -> None:
    unsupported = {(Target.AGENT, Protocol.WS)}
    for target in Target:
        for protocol in Protocol:
            if (target, protocol) in unsupported:
                with pytest.raises(UnsupportedScenario, match="--protocol http"):
                    driver_for(target, protocol)
            else:
                assert callable(driver_for(target, protocol))


def test_compare_without_a_baseline_creates_it_and_passes(tmp_path: Path) -> None:
    current = _write(tmp_path / "results.json", make_results(noisy(40, 30, 1)))
    out = tmp_path / "out"
    assert main(["compare", "--current", str(current), "--out", str(out)]) == EXIT_OK
    assert load_results(out / "baseline.json") == load_results(current)
    comparison = json.loads((out / "comparison.json").read_text())
    assert comparison["verdict"] == "pass"
    assert comparison["baseline_created"] is True
    assert "this run is now the baseline" in (out / "summary.md").read_text()
    assert parse_svg((out / "chart.svg").read_text()).tag.endswith("svg")


def test_compare_with_a_missing_baseline_file_does_the_same(tmp_path: Path) -> None:
    current = _write(tmp_path / "results.json", make_results(noisy(40, 30, 1)))
    out = tmp_path / "out"
    code = main(
        ["compare", "--baseline", str(tmp_path / "nope.json"), "--current", str(current), "--out", str(out)]
    )
    assert code == EXIT_OK
    assert (out / "baseline.json").exists()


def test_compare_exits_1_on_a_regression_and_keeps_the_old_baseline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    baseline = _write(tmp_path / "baseline.json", make_results(noisy(40, 50, 1)))
    current = _write(tmp_path / "results.json", make_results(noisy(160, 50, 2)))
    out = tmp_path / "out"
    code = main(["compare", "--baseline", str(baseline), "--current", str(current), "--out", str(out)])
    assert code == EXIT_REGRESSION
    assert not (out / "baseline.json").exists()  # a regressed run never becomes the baseline
    assert json.loads((out / "comparison.json").read_text())["verdict"] == "fail"
    err = capsys.readouterr().err
    assert "fail: ttfa_ms p50: worse by" in err
    assert "verdict: fail" in err


def test_compare_passes_and_rolls_the_baseline_forward(tmp_path: Path) -> None:
    baseline = _write(tmp_path / "baseline.json", make_results(noisy(40, 50, 1)))
    current = _write(tmp_path / "results.json", make_results(noisy(40, 50, 2)))
    out = tmp_path / "out"
    assert (
        main(["compare", "--baseline", str(baseline), "--current", str(current), "--out", str(out)])
        == EXIT_OK
    )
    assert load_results(out / "baseline.json") == load_results(current)


def test_compare_uses_the_policy_file(tmp_path: Path) -> None:
    baseline = _write(tmp_path / "baseline.json", make_results(noisy(40, 50, 1)))
    current = _write(tmp_path / "results.json", make_results(noisy(160, 50, 2)))
    policy = tmp_path / "policy.toml"
    policy.write_text("[[checks]]\nmetric = 'ttfa_ms'\nwarn = 4.0\nfail = 5.0\n", encoding="utf-8")
    argv = ["compare", "--baseline", str(baseline), "--current", str(current), "--out", str(tmp_path / "o")]
    assert main([*argv, "--policy", str(policy)]) == EXIT_OK  # +300 % is under a +400 % warn limit


@pytest.mark.parametrize(
    ("content", "message"),
    [("not json", "is not a vibevoice-bench results file"), ('{"schema_version": 1}', "run: Field required")],
)
def test_compare_rejects_files_that_are_not_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    current = tmp_path / "results.json"
    current.write_text(content, encoding="utf-8")
    assert main(["compare", "--current", str(current), "--out", str(tmp_path / "o")]) == EXIT_ERROR
    assert message in capsys.readouterr().err


def test_compare_rejects_a_corrupt_baseline_rather_than_replacing_it(tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    baseline.write_text("{}", encoding="utf-8")
    current = _write(tmp_path / "results.json", make_results(noisy(40, 30, 1)))
    argv = ["compare", "--baseline", str(baseline), "--current", str(current), "--out", str(tmp_path / "o")]
    assert main(argv) == EXIT_ERROR
    assert baseline.read_text() == "{}"


def test_compare_reports_an_unwritable_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    current = _write(tmp_path / "results.json", make_results(noisy(40, 30, 1)))
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    assert main(["compare", "--current", str(current), "--out", str(blocker / "out")]) == EXIT_ERROR
    assert "cannot write" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--target", "tts", "--url", "localhost:8000"],
            "--url: 'localhost:8000' is not an http:// or https:// URL with a host; did you mean http://localhost:8000?",
        ),
        (["--target", "agent", "--url", "http://127.0.0.1:1", "--protocol", "ws"], "use --protocol http"),
        (
            ["--target", "tts", "--url", "http://127.0.0.1:1", "--concurrency", "0"],
            "concurrency must be at least 1",
        ),
        (
            ["--target", "tts", "--url", "http://127.0.0.1:1", "--requests", "0"],
            "requests must be at least 1",
        ),
        (["--target", "tts", "--url", "http://127.0.0.1:1", "--timeout", "0"], "timeout must be positive"),
        (
            ["--target", "tts", "--url", "http://127.0.0.1:1", "--corpus-file", "/nonexistent"],
            "cannot read corpus",
        ),
        (
            ["--target", "tts", "--url", "http://127.0.0.1:1/", "--against", "http://127.0.0.1:1"],
            "--against must name another service",
        ),
        (
            ["--target", "tts", "--url", "http://127.0.0.1:1", "--against", "ftp://x"],
            "--against: 'ftp://x' is not an http:// or https:// URL",
        ),
        (["--target", "tts", "--url", "http://127.0.0.1:1", "--cpu-window", "0"], "--cpu-window must be"),
    ],
)
def test_run_usage_errors_exit_2_before_any_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["run", *argv, "--out", str(tmp_path / "o")]) == EXIT_ERROR
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_argparse_errors_also_exit_2(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "run",
                "--target",
                "tts",
                "--url",
                "http://x",
                "--requests",
                "3",
                "--duration",
                "1",
                "--out",
                "o",
            ]
        )
    assert exc.value.code == EXIT_ERROR


def test_a_failing_first_run_does_not_become_the_baseline(tmp_path: Path) -> None:
    current = _write(tmp_path / "results.json", make_results([], failures=20))
    out = tmp_path / "out"
    assert main(["compare", "--current", str(current), "--out", str(out)]) == EXIT_REGRESSION
    assert not (out / "baseline.json").exists()
    summary = (out / "summary.md").read_text()
    assert "error rate | - | 100.00%" in summary
    assert "failed its limits: it is not stored as the baseline" in summary
    assert "now the baseline" not in summary


def _with_small_files(limit: int) -> None:
    """In the child, before exec: writes past `limit` bytes fail with EFBIG, as on a full disk."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


@pytest.mark.integration
def test_a_full_disk_fails_compare_and_leaves_the_last_good_run_whole(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = _write(tmp_path / "first.json", make_results(noisy(40, 30, 1)))
    assert main(["compare", "--current", str(first), "--out", str(out)]) == EXIT_OK
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    current = _write(tmp_path / "second.json", make_results(noisy(40, 30, 2)))
    argv = [
        str(Path(sys.executable).parent / "vibevoice-bench"),
        "compare",
        "--baseline",
        str(out / "baseline.json"),
    ]
    done = subprocess.run(
        [*argv, "--current", str(current), "--out", str(out)],
        preexec_fn=lambda: _with_small_files(1000),  # only setrlimit and a signal disposition
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == EXIT_ERROR, done.stderr
    assert "cannot write" in done.stderr
    after = {path.name: path.read_bytes() for path in out.iterdir()}
    assert {name: after[name] for name in before} == before  # nothing the next run reads was cut short
    assert not [name for name in after if name.endswith(".partial")]


def test_a_file_the_next_run_reads_is_written_whole_or_not_at_all(tmp_path: Path) -> None:
    # Written in place, a baseline cut off by a full disk would be half the old one's size, and the
    # next run would read it (as an error at best): written beside it and renamed, the old one stays.
    target = tmp_path / "baseline.json"
    target.write_text("the last good run\n", encoding="utf-8")
    script = (
        "import sys, pathlib; from vibevoice_platform.bench.cli import _write; "
        "_write(pathlib.Path(sys.argv[1]), 'x' * 100_000)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(target)],
        preexec_fn=lambda: _with_small_files(50_000),  # only setrlimit and a signal disposition
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "cannot write" in done.stderr
    assert target.read_text(encoding="utf-8") == "the last good run\n"
    assert [path.name for path in tmp_path.iterdir()] == ["baseline.json"]
