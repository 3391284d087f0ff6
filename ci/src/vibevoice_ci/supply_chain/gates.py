"""The security gates: turn a pip-audit or Trivy JSON report into findings, and findings into a verdict.

A finding fails the gate when its severity is one the gate fails on and no live allowlist entry
covers it; an expired allowlist entry fails the gate by itself. The verdict keeps every finding with
what happened to it (failed, allowed, below the threshold), so the rendered report shows the whole
picture, not only the failures. Reading the reports, deciding and rendering are separate, pure steps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from vibevoice_ci.core.jsondata import array, obj
from vibevoice_ci.supply_chain.allowlist import MAX_TERM, Entry
from vibevoice_ci.supply_chain.severity import Rating, Severity


class Status(StrEnum):
    """What the gate did with a finding."""

    FAILED = "failed"
    ALLOWED = "allowed"
    BELOW_THRESHOLD = "below threshold"


@dataclass(frozen=True)
class Finding:
    """One reported problem: a vulnerable package, a secret or a misconfiguration."""

    id: str
    package: str
    version: str
    rating: Rating
    aliases: tuple[str, ...] = ()
    fixed_in: str = ""
    title: str = ""
    target: str = ""

    @property
    def ids(self) -> tuple[str, ...]:
        """The id and every alias: what an allowlist entry may name."""
        return (self.id, *self.aliases)

    def describe(self) -> str:
        """One line: id, package and version, rating, fix."""
        what = " ".join(part for part in (self.id, self.package, self.version) if part)
        fix = f"; fixed in {self.fixed_in}" if self.fixed_in else ""
        where = f" in {self.target}" if self.target else ""
        return f"{what}{where}: {self.rating.describe()}{fix}"


@dataclass(frozen=True)
class Verdict:
    """A finding and what the gate did with it (the allowlist entry that allowed it, if any)."""

    finding: Finding
    status: Status
    entry: Entry | None = None


@dataclass(frozen=True)
class GateResult:
    """Everything one gate decided."""

    gate: str
    policy: str
    verdicts: list[Verdict]
    expired: list[Entry] = field(default_factory=list[Entry])
    unused: list[Entry] = field(default_factory=list[Entry])
    overlong: list[Entry] = field(default_factory=list[Entry])

    @property
    def failures(self) -> list[Verdict]:
        """The findings that fail the gate."""
        return [verdict for verdict in self.verdicts if verdict.status is Status.FAILED]

    @property
    def passed(self) -> bool:
        """No failing finding, and no allowlist entry expired or expiring too far ahead."""
        return not self.failures and not self.expired and not self.overlong


# -- reading reports -----------------------------------------------------------------------------


def pip_audit_findings(report: Mapping[str, Any], rate: Callable[[Sequence[str]], Rating]) -> list[Finding]:
    """The vulnerabilities in a `pip-audit --format json` report, each rated by `rate(ids)`."""
    if not isinstance(report.get("dependencies"), list):
        msg = "not a pip-audit JSON report: no 'dependencies' list"
        raise ValueError(msg)
    findings: list[Finding] = []
    for dependency in map(obj, array(report.get("dependencies"))):
        name, version = str(dependency.get("name", "")), str(dependency.get("version", ""))
        for vuln in map(obj, array(dependency.get("vulns"))):
            ids = [str(vuln["id"]), *(str(alias) for alias in array(vuln.get("aliases")))]
            fixes = array(vuln.get("fix_versions"))
            findings.append(
                Finding(
                    id=ids[0],
                    package=name,
                    version=version,
                    rating=rate(ids),
                    aliases=tuple(ids[1:]),
                    fixed_in=", ".join(str(fix) for fix in fixes),
                    title=str(vuln.get("description") or ""),
                )
            )
    return findings


def trivy_findings(report: Mapping[str, Any]) -> list[Finding]:
    """Vulnerabilities, secrets and failed misconfiguration checks in a `trivy --format json` report."""
    if report.get("SchemaVersion") != 2 or not isinstance(report.get("Results", []), list):
        msg = "not a Trivy JSON report (SchemaVersion 2 with a Results list)"
        raise ValueError(msg)
    findings: list[Finding] = []
    for result in map(obj, array(report.get("Results"))):
        findings.extend(_trivy_result(result))
    return findings


def _trivy_result(result: Mapping[str, Any]) -> Iterable[Finding]:
    target = str(result.get("Target", ""))
    for vuln in map(obj, array(result.get("Vulnerabilities"))):
        yield Finding(
            id=str(vuln["VulnerabilityID"]),
            package=str(vuln.get("PkgName", "")),
            version=str(vuln.get("InstalledVersion", "")),
            rating=_trivy_rating(vuln),
            fixed_in=str(vuln.get("FixedVersion", "")),
            title=str(vuln.get("Title", "")),
            target=target,
        )
    for secret in map(obj, array(result.get("Secrets"))):
        line = secret.get("StartLine")
        yield Finding(
            id=str(secret.get("RuleID", "secret")),
            package="",
            version="",
            rating=Rating(Severity.parse(str(secret.get("Severity", "UNKNOWN"))), None, "Trivy secret rule"),
            title=str(secret.get("Title", "")),
            target=f"{target}:{line}" if line else target,
        )
    for misconfiguration in map(obj, array(result.get("Misconfigurations"))):
        if misconfiguration.get("Status", "FAIL") != "FAIL":
            continue
        yield Finding(
            id=str(misconfiguration.get("AVDID") or misconfiguration.get("ID", "misconfiguration")),
            package="",
            version="",
            rating=Rating(
                Severity.parse(str(misconfiguration.get("Severity", "UNKNOWN"))), None, "Trivy check"
            ),
            title=str(misconfiguration.get("Title", "")),
            target=target,
        )


def _trivy_rating(vuln: Mapping[str, Any]) -> Rating:
    """Trivy's own severity (from its preferred source), with the NVD score when it has one."""
    severity = Severity.parse(str(vuln.get("Severity", "UNKNOWN")))
    source = str(vuln.get("SeveritySource", "") or "trivy")
    nvd = obj(obj(vuln.get("CVSS")).get("nvd"))
    score = nvd.get("V3Score") or nvd.get("V40Score") or nvd.get("V2Score")
    if isinstance(score, int | float):
        return Rating(severity, float(score), f"{source}; NVD {float(score):.1f}")
    return Rating(severity, None, source)


# -- deciding ------------------------------------------------------------------------------------


def evaluate(
    gate: str,
    findings: Sequence[Finding],
    *,
    entries: Sequence[Entry],
    fails: Callable[[Severity], bool],
    policy: str,
    today: date,
) -> GateResult:
    """Each finding's fate under `fails` and the live allowlist entries; expired entries are listed."""
    live = [entry for entry in entries if not entry.expired(today) and not entry.overlong(today)]
    used: set[Entry] = set()
    verdicts: list[Verdict] = []
    for finding in findings:
        entry = next((entry for entry in live if entry.applies_to(finding.ids, finding.package)), None)
        if entry is not None:
            used.add(entry)
            verdicts.append(Verdict(finding, Status.ALLOWED, entry))
        elif fails(finding.rating.severity):
            verdicts.append(Verdict(finding, Status.FAILED))
        else:
            verdicts.append(Verdict(finding, Status.BELOW_THRESHOLD))
    expired = [entry for entry in entries if entry.expired(today)]
    unused = [entry for entry in live if entry not in used]
    overlong = [entry for entry in entries if entry.overlong(today)]
    return GateResult(gate, policy, verdicts, expired, unused, overlong)


def at_least(threshold: Severity) -> Callable[[Severity], bool]:
    """Fail on `threshold` and above (UNKNOWN ranks above CRITICAL, so it always fails)."""
    return lambda severity: severity >= threshold


def one_of(severities: Iterable[Severity]) -> Callable[[Severity], bool]:
    """Fail on exactly these severities (Trivy's --severity semantics)."""
    chosen = frozenset(severities)
    return lambda severity: severity in chosen


# -- rendering -----------------------------------------------------------------------------------


def render_text(result: GateResult) -> str:
    """The verdict for a terminal or a CI log: each failure named, then the counts."""
    lines: list[str] = []
    for verdict in result.failures:
        lines.append(f"FAIL  {verdict.finding.describe()}")
    for entry in result.expired:
        lines.append(f"FAIL  allowlist entry expired: {entry.describe()}")
    for entry in result.overlong:
        lines.append(
            f"FAIL  allowlist entry expires more than {MAX_TERM.days} days ahead: {entry.describe()}"
        )
    for verdict in result.verdicts:
        if verdict.status is Status.ALLOWED and verdict.entry is not None:
            lines.append(f"ALLOW {verdict.finding.describe()} -- {verdict.entry.describe()}")
    for verdict in result.verdicts:
        if verdict.status is Status.BELOW_THRESHOLD:
            lines.append(f"info  {verdict.finding.describe()} (below the threshold)")
    for entry in result.unused:
        lines.append(f"note  allowlist entry matches nothing in this report: {entry.describe()}")
    lines.append(_summary(result))
    return "\n".join(lines)


def render_markdown(result: GateResult) -> str:
    """The verdict as GitHub-flavoured Markdown: a summary line and a table of every finding."""
    lines = [f"## {result.gate} gate: {'passed' if result.passed else 'FAILED'}", "", _summary(result), ""]
    if result.verdicts:
        lines += [
            "| Status | ID | Package | Version | Severity | Fixed in | Note |",
            "|---|---|---|---|---|---|---|",
        ]
        for verdict in sorted(result.verdicts, key=_order):
            finding = verdict.finding
            note = verdict.entry.describe() if verdict.entry else finding.title
            cells = [
                verdict.status.value,
                " ".join((finding.id, *(f"({alias})" for alias in finding.aliases))),
                finding.package or finding.target,
                finding.version,
                finding.rating.describe(),
                finding.fixed_in,
                note,
            ]
            lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
        lines.append("")
    for entry in result.expired:
        lines.append(f"- **Expired allowlist entry** (fails the gate): {_cell(entry.describe())}")
    for entry in result.overlong:
        lines.append(
            f"- **Allowlist entry expiring more than {MAX_TERM.days} days ahead** (fails the gate): "
            f"{_cell(entry.describe())}"
        )
    for entry in result.unused:
        lines.append(f"- Allowlist entry matching nothing: {_cell(entry.describe())}")
    return "\n".join(lines).rstrip() + "\n"


def _summary(result: GateResult) -> str:
    counts = {status: 0 for status in Status}
    for verdict in result.verdicts:
        counts[verdict.status] += 1
    verdict = "passed" if result.passed else "FAILED"
    return (
        f"{result.gate}: {verdict} ({result.policy}): {len(result.verdicts)} findings, "
        f"{counts[Status.FAILED]} failing, {counts[Status.ALLOWED]} allowed, "
        f"{counts[Status.BELOW_THRESHOLD]} below the threshold, "
        f"{len(result.expired)} expired allowlist entries"
    )


def _order(verdict: Verdict) -> tuple[int, int, str]:
    rank = {Status.FAILED: 0, Status.ALLOWED: 1, Status.BELOW_THRESHOLD: 2}[verdict.status]
    return rank, -int(verdict.finding.rating.severity), verdict.finding.id


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")
