"""`python -m vibevoice_ci` (vibevoice_ci.cli)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from vibevoice_ci.cli import COMMANDS, EXIT_OK, EXIT_USAGE, build_parser, main

SHA = "fedcba9876543210fedcba9876543210fedcba98"


def test_tags_prints_every_reference_of_every_service(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["tags", "--ref", "refs/tags/v3.1.4", "--sha", SHA, "--repository", "Owner/Project"]
    assert main(argv) == EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        f"ghcr.io/owner/project/vibevoice-{service}:{tag}"
        for service in ("tts", "agent")
        for tag in ("sha-fedcba9", "3.1.4", "3.1", "3")
    ]


def test_tags_for_one_service_on_another_registry(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["tags", "--ref", "refs/heads/main", "--sha", SHA, "--registry", "localhost:5000"]
    argv += ["--repository", "team/app", "--service", "agent"]
    assert main(argv) == EXIT_OK
    assert capsys.readouterr().out == "localhost:5000/team/app/vibevoice-agent:sha-fedcba9\n"


def test_bad_values_exit_2_with_the_reason_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["tags", "--ref", "refs/tags/v1", "--sha", SHA, "--repository", "o/p"]
    assert main(argv) == EXIT_USAGE
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "error: release tag 'refs/tags/v1' is not v<semantic version>" in captured.err


def test_unknown_service_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["tags", "--ref", "r", "--sha", SHA, "--repository", "o/p", "--service", "asr"])
    assert raised.value.code == EXIT_USAGE
    assert "invalid choice: 'asr'" in capsys.readouterr().err


def test_every_command_is_a_subcommand_with_help() -> None:
    help_text = build_parser().format_help()
    for command in COMMANDS:
        assert command.name in help_text
        assert command.help in help_text


def test_runs_as_a_module() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "vibevoice_ci",
            "tags",
            "--ref",
            "refs/heads/x",
            "--sha",
            SHA,
            "--repository",
            "o/p",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "ghcr.io/o/p/vibevoice-tts:sha-fedcba9",
        "ghcr.io/o/p/vibevoice-agent:sha-fedcba9",
    ]


@pytest.mark.parametrize("gate", ["pip-audit", "trivy"])
@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('{"dependencies": [{"name": "jinja2", "vulns": [', "is not JSON"),  # cut short
        ("[]", "not a"),  # valid JSON, another shape
        ('{"SchemaVersion": 2, "Results": 7}', "not a"),
        ("", "is not JSON"),
    ],
)
def test_a_report_that_is_not_what_the_gate_expects_is_undecided_not_a_pass(
    gate: str, content: str, reason: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "report.json"
    report.write_text(content, encoding="utf-8")
    assert main(["gate", gate, str(report), "--allowlist", str(tmp_path / "none.toml")]) == 2
    err = capsys.readouterr().err
    assert "report" in err  # the file, or what it should have been
    assert reason in err
