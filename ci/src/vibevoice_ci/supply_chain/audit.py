"""The command lines of the dependency audit, as plain data.

The audit exports the services' dependency set the way it will be installed: `uv pip compile` of
the root pyproject.toml resolves every runtime requirement to one pinned version with the hashes of
its files (Python 3.12 on Linux, the images' interpreter). pip-audit then audits exactly that file
against OSV, without pip and without resolving anything again (`--disable-pip` on a fully hashed
file), and `--strict` makes a dependency it cannot audit an error instead of a silent skip. The gate
(`python -m vibevoice_ci gate pip-audit`) decides; pip-audit's own exit status is not used, because
it means both "found something" and "broke".
"""

from __future__ import annotations

from collections.abc import Sequence

from vibevoice_ci.supply_chain import osv

PYTHON_VERSION = "3.12"  # the interpreter of the shipped images
PYTHON_PLATFORM = "linux"
REPORTS = "/reports"
REQUIREMENTS = f"{REPORTS}/requirements.txt"
PIP_AUDIT_REPORT = f"{REPORTS}/pip-audit.json"
PIP_AUDIT_LOG = f"{REPORTS}/pip-audit.log"
GATE_MARKDOWN = f"{REPORTS}/pip-audit.md"
GATE_VERDICT = f"{REPORTS}/pip-audit-gate.txt"


def export_requirements(
    output: str = REQUIREMENTS,
    pyproject: str = "pyproject.toml",
    extras: Sequence[str] = (),
    python_version: str = PYTHON_VERSION,
) -> list[str]:
    """uv resolving the project's requirements (and `extras`) to pinned, hashed requirements."""
    command = [
        "uv",
        "pip",
        "compile",
        pyproject,
        "--generate-hashes",
        "--python-version",
        python_version,
        "--python-platform",
        PYTHON_PLATFORM,
        "--no-header",
        "--quiet",
        "--output-file",
        output,
    ]
    for extra in extras:
        command += ["--extra", extra]
    return command


def pip_audit(
    requirements: str = REQUIREMENTS, report: str = PIP_AUDIT_REPORT, osv_url: str = osv.DEFAULT_OSV_URL
) -> list[str]:
    """pip-audit of a hashed requirements file against an OSV API, JSON report to `report`."""
    return [
        "pip-audit",
        "--requirement",
        requirements,
        "--require-hashes",
        "--disable-pip",
        "--strict",
        "--vulnerability-service",
        "osv",
        "--osv-url",
        osv.query_url(osv_url),
        "--format",
        "json",
        "--output",
        report,
        "--progress-spinner",
        "off",
    ]


def gate_pip_audit(
    report: str = PIP_AUDIT_REPORT,
    fail_on: str = "low",
    osv_url: str = osv.DEFAULT_OSV_URL,
    allowlist: str = "",
    markdown: str = GATE_MARKDOWN,
) -> list[str]:
    """The pip-audit gate on `report`: `python -m vibevoice_ci gate pip-audit ...`."""
    command = [
        "python3",
        "-m",
        "vibevoice_ci",
        "gate",
        "pip-audit",
        report,
        "--fail-on",
        fail_on,
        "--osv-url",
        osv.base_url(osv_url),
        "--markdown",
        markdown,
    ]
    return command + (["--allowlist", allowlist] if allowlist else [])
