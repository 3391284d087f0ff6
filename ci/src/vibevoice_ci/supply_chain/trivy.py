"""The command lines of the image scan and the SBOMs, as plain data.

Trivy reads the image as a tarball (`Container.as_tarball()`), so an image is scanned before it is
pushed anywhere. It scans once, to JSON; the SARIF (for code scanning), the table (for people) and
cosign's vulnerability predicate are converted from that JSON with `trivy convert`, so every report
describes the same scan. The gate (`python -m vibevoice_ci gate trivy`) decides, not Trivy's
`--exit-code`. The vulnerability database lives in a cache volume; `--db-repository` may point at a
mirror.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

CACHE_DIR = "/root/.cache/trivy"
CACHE_VOLUME = "vibevoice-trivy"
IMAGE_TARBALL = "/work/image.tar"
REPORTS = "/reports"
SCANNERS = ("vuln", "secret")


@dataclass(frozen=True)
class Conversion:
    """One report derived from the scan's JSON: Trivy's format name and the file name it gets."""

    format: str
    filename: str


JSON_REPORT = "trivy.json"
CONVERSIONS = (
    Conversion("sarif", "trivy.sarif"),
    Conversion("table", "trivy.txt"),
    Conversion("cosign-vuln", "trivy.cosign-vuln.json"),
)
SBOM_FORMATS = (Conversion("cyclonedx", "sbom.cdx.json"), Conversion("spdx-json", "sbom.spdx.json"))


def scan(
    tarball: str = IMAGE_TARBALL,
    output: str = f"{REPORTS}/{JSON_REPORT}",
    cache_dir: str = CACHE_DIR,
    db_repository: str = "",
    scanners: Sequence[str] = SCANNERS,
) -> list[str]:
    """Trivy on an image tarball: every finding (no severity filter), JSON, exit 0 whatever it finds."""
    command = [
        "trivy",
        "image",
        "--input",
        tarball,
        "--scanners",
        ",".join(scanners),
        "--format",
        "json",
        "--output",
        output,
        "--cache-dir",
        cache_dir,
        "--exit-code",
        "0",
        "--no-progress",
    ]
    if db_repository.strip():
        command += ["--db-repository", db_repository.strip()]
    return command


def convert(
    conversion: Conversion, report: str = f"{REPORTS}/{JSON_REPORT}", reports: str = REPORTS
) -> list[str]:
    """`trivy convert` of the scan's JSON into another format, beside it."""
    return [
        "trivy",
        "convert",
        "--format",
        conversion.format,
        "--output",
        f"{reports}/{conversion.filename}",
        report,
    ]


def sbom(
    sbom_format: Conversion, tarball: str = IMAGE_TARBALL, reports: str = REPORTS, cache_dir: str = CACHE_DIR
) -> list[str]:
    """An SBOM of an image tarball (CycloneDX or SPDX JSON); needs no vulnerability database."""
    return [
        "trivy",
        "image",
        "--input",
        tarball,
        "--format",
        sbom_format.format,
        "--output",
        f"{reports}/{sbom_format.filename}",
        "--cache-dir",
        cache_dir,
        "--no-progress",
    ]


def gate_trivy(
    report: str = f"{REPORTS}/{JSON_REPORT}",
    severities: str = "CRITICAL",
    allowlist: str = "",
    markdown: str = f"{REPORTS}/trivy-gate.md",
) -> list[str]:
    """The Trivy gate on `report`: `python -m vibevoice_ci gate trivy ...`."""
    command = ["python3", "-m", "vibevoice_ci", "gate", "trivy", report, "--severity", severities]
    command += ["--markdown", markdown]
    return command + (["--allowlist", allowlist] if allowlist else [])
