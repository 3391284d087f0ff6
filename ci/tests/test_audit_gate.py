"""The dependency audit run for real: uv exports the pinned set, pip-audit audits it against an OSV
API on loopback serving two real Jinja2 advisories, and `python -m vibevoice_ci gate pip-audit`
decides, looking each finding's severity up in that same API.

These are the command lines the `audit` function's container runs (vibevoice_ci.audit), with the
project's venv first on PATH. uv resolves from a folder of wheels made here (UV_OFFLINE and
UV_FIND_LINKS), so nothing leaves the machine.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from supply_chain_support import JINJA2_HIGH, osv_server, wheel
from vibevoice_ci.supply_chain import audit

from tests.support.tools import require_tool

pytestmark = pytest.mark.integration

PYPROJECT = """\
[project]
name = "demo-service"
version = "1.0"
dependencies = ["jinja2==2.10"]

[project.optional-dependencies]
clean = ["markupsafe==1.1.0"]
"""


def run(argv: Sequence[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv), cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture(scope="module")
def osv_url() -> Iterator[str]:
    with osv_server() as url:
        yield url


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A project depending on Jinja2 2.10 (and MarkupSafe), its wheels, and the environment to run in."""
    for tool in ("uv", "pip-audit", "python3"):
        require_tool(tool, "make venv (the dev extra)")
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    wheel(wheels, "jinja2", "2.10", ["markupsafe>=0.23"])
    wheel(wheels, "markupsafe", "1.1.0")
    work = tmp_path / "work"
    (work / "reports").mkdir(parents=True)
    (work / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    bin_dir = str(Path(require_tool("pip-audit")).parent)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(tmp_path / "home"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "UV_CACHE_DIR": str(tmp_path / "uv-cache"),
        "UV_OFFLINE": "1",
        "UV_FIND_LINKS": str(wheels),
    }
    return work, env


def export_and_audit(work: Path, env: dict[str, str], osv_url: str, extras: Sequence[str] = ()) -> Path:
    """uv export, then pip-audit: the pipeline's two command lines; returns the JSON report."""
    requirements, report = work / "reports" / "requirements.txt", work / "reports" / "pip-audit.json"
    exported = run(audit.export_requirements(output=str(requirements), extras=extras), work, env)
    assert exported.returncode == 0, exported.stderr
    audited = run(audit.pip_audit(str(requirements), str(report), osv_url), work, env)
    assert report.exists(), audited.stderr  # exit 1 on findings: the gate decides, not pip-audit
    return report


def gate(
    report: Path, env: dict[str, str], osv_url: str, *extra: str, allowlist: str = ""
) -> subprocess.CompletedProcess[str]:
    markdown = report.with_suffix(".md")
    argv = audit.gate_pip_audit(str(report), osv_url=osv_url, allowlist=allowlist, markdown=str(markdown))
    return run([*argv, *extra], report.parent, env)


def test_the_exported_set_is_pinned_with_hashes(project: tuple[Path, dict[str, str]], osv_url: str) -> None:
    work, env = project
    export_and_audit(work, env, osv_url)
    lines = (work / "reports" / "requirements.txt").read_text(encoding="utf-8")
    assert "jinja2==2.10 \\\n    --hash=sha256:" in lines
    assert "markupsafe==1.1.0 \\\n    --hash=sha256:" in lines  # the transitive dependency too


def test_the_gate_fails_on_the_known_vulnerabilities_and_shows_their_severity(
    project: tuple[Path, dict[str, str]], osv_url: str
) -> None:
    work, env = project
    report = export_and_audit(work, env, osv_url)
    result = gate(report, env, osv_url)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAIL  CVE-2019-10906 jinja2 2.10: HIGH (CVSS_V3 8.6)" in result.stdout
    assert "FAIL  CVE-2020-28493 jinja2 2.10: MEDIUM (CVSS_V3 5.3)" in result.stdout
    markdown = report.with_suffix(".md").read_text(encoding="utf-8")
    assert "## pip-audit gate: FAILED" in markdown
    assert f"({JINJA2_HIGH})" in markdown


def test_fail_on_sets_the_lowest_failing_severity(project: tuple[Path, dict[str, str]], osv_url: str) -> None:
    work, env = project
    report = export_and_audit(work, env, osv_url)
    high = gate(report, env, osv_url, "--fail-on", "high")
    assert high.returncode == 1
    assert "info  CVE-2020-28493 jinja2 2.10: MEDIUM (CVSS_V3 5.3) (below the threshold)" in high.stdout
    assert gate(report, env, osv_url, "--fail-on", "critical").returncode == 0


def test_a_clean_set_passes(project: tuple[Path, dict[str, str]], osv_url: str) -> None:
    work, env = project
    (work / "pyproject.toml").write_text(
        PYPROJECT.replace('"jinja2==2.10"', '"markupsafe==1.1.0"'), encoding="utf-8"
    )
    result = gate(export_and_audit(work, env, osv_url), env, osv_url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "pip-audit: passed" in result.stdout
    assert "0 findings" in result.stdout


def allowlist_file(folder: Path, expires: datetime) -> str:
    path = folder / "allowlist.toml"
    entries = "".join(
        f'[[pip-audit]]\nid = "{vuln_id}"\npackage = "jinja2"\n'
        f'reason = "{reason}"\nexpires = {expires.date()}\n\n'
        for vuln_id, reason in (
            ("GHSA-462w-v97r-4m45", "templates are never sandboxed here"),
            ("CVE-2020-28493", "urlize is not used"),
        )
    )
    path.write_text(entries, encoding="utf-8")
    return str(path)


def test_live_allowlist_entries_let_the_findings_through(
    project: tuple[Path, dict[str, str]], osv_url: str
) -> None:
    work, env = project
    report = export_and_audit(work, env, osv_url)
    live = allowlist_file(work, datetime.now(UTC) + timedelta(days=30))
    result = gate(report, env, osv_url, allowlist=live)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ALLOW CVE-2019-10906 jinja2 2.10: HIGH (CVSS_V3 8.6)" in result.stdout
    assert "templates are never sandboxed here" in result.stdout


def test_expired_allowlist_entries_fail(project: tuple[Path, dict[str, str]], osv_url: str) -> None:
    work, env = project
    report = export_and_audit(work, env, osv_url)
    expired = allowlist_file(work, datetime.now(UTC) - timedelta(days=1))
    result = gate(report, env, osv_url, allowlist=expired)
    assert result.returncode == 1
    assert "FAIL  CVE-2019-10906" in result.stdout
    assert "FAIL  allowlist entry expired: GHSA-462w-v97r-4m45 (jinja2)" in result.stdout


def test_an_unreachable_osv_api_is_an_error_not_a_pass(
    project: tuple[Path, dict[str, str]], osv_url: str
) -> None:
    work, env = project
    report = export_and_audit(work, env, osv_url)
    with osv_server({}) as other:
        pass  # started and stopped: nothing listens on its port any more
    result = gate(report, env, other)
    assert result.returncode == 2
    assert "cannot reach OSV" in result.stderr


def test_a_missing_report_is_an_error(tmp_path: Path, osv_url: str) -> None:
    env = {**os.environ, "PATH": f"{Path(require_tool('python3')).parent}{os.pathsep}{os.environ['PATH']}"}
    result = gate(tmp_path / "pip-audit.json", env, osv_url)
    assert result.returncode == 2
    assert "no pip-audit report" in result.stderr
