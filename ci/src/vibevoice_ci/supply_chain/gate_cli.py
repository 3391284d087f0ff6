"""`python -m vibevoice_ci gate pip-audit|trivy REPORT ...`: a security gate on a saved report.

    gate pip-audit REPORT [--allowlist FILE] [--fail-on SEVERITY] [--osv-url URL] [--markdown FILE]
    gate trivy REPORT [--severity CRITICAL,HIGH] [--allowlist FILE] [--markdown FILE]

The verdict (each failing finding named, then the counts) goes to stdout, a Markdown report to
`--markdown`. Exit 0 when the gate passes, 1 when it fails, 2 when it cannot decide: a missing or
malformed report or allowlist, or an OSV API that does not answer. The pipeline's containers run
this same command on the reports they wrote.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from vibevoice_ci.supply_chain import allowlist, gates, osv
from vibevoice_ci.supply_chain.severity import Severity

# The same codes as every `python -m vibevoice_ci` command.
PASSED, FAILED, CANNOT_DECIDE = 0, 1, 2
DEFAULT_FAIL_ON = "low"  # any known vulnerability fails unless allowlisted
DEFAULT_TRIVY_SEVERITIES = "CRITICAL"


def configure(parser: argparse.ArgumentParser) -> None:
    """The `gate` subcommand's own subcommands: pip-audit and trivy."""
    kinds = parser.add_subparsers(dest="gate", required=True, metavar="GATE")
    pip_audit = kinds.add_parser(
        "pip-audit",
        help="fail on known vulnerabilities in a pip-audit JSON report",
        description="Fail on known vulnerabilities in a `pip-audit --format json` report, rated from OSV.",
    )
    pip_audit.add_argument("report", type=Path, help="the pip-audit JSON report")
    pip_audit.add_argument(
        "--fail-on",
        default=DEFAULT_FAIL_ON,
        choices=[severity.name.lower() for severity in Severity if severity is not Severity.UNKNOWN],
        help="the lowest severity that fails (default: low, i.e. every rated vulnerability; "
        "an unrated one always fails)",
    )
    pip_audit.add_argument(
        "--osv-url", default=osv.DEFAULT_OSV_URL, help=f"OSV API base URL (default: {osv.DEFAULT_OSV_URL})"
    )
    _common(pip_audit)
    pip_audit.set_defaults(gate_run=_run_pip_audit)

    trivy = kinds.add_parser(
        "trivy",
        help="fail on findings of the given severities in a Trivy JSON report",
        description="Fail on vulnerabilities, secrets and misconfigurations in a Trivy JSON report.",
    )
    trivy.add_argument("report", type=Path, help="the Trivy JSON report")
    trivy.add_argument(
        "--severity",
        default=DEFAULT_TRIVY_SEVERITIES,
        help="comma-separated severities that fail (default: CRITICAL), e.g. CRITICAL,HIGH",
    )
    _common(trivy)
    trivy.set_defaults(gate_run=_run_trivy)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--allowlist", type=Path, help="TOML allowlist (e.g. security/allowlist.toml)")
    parser.add_argument("--markdown", type=Path, help="also write the verdict as Markdown to this file")


def run(args: argparse.Namespace) -> int:
    """Run the chosen gate; problems reading its inputs exit 2 with the reason on stderr."""
    gate_run: Callable[[argparse.Namespace], gates.GateResult] = args.gate_run
    try:
        result = gate_run(args)
    except (ValueError, OSError, osv.OsvError) as error:
        print(f"error: {error}", file=sys.stderr)
        return CANNOT_DECIDE
    print(gates.render_text(result))
    if args.markdown is not None:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(gates.render_markdown(result), encoding="utf-8")
    return PASSED if result.passed else FAILED


def _run_pip_audit(args: argparse.Namespace) -> gates.GateResult:
    threshold = Severity.parse(args.fail_on)
    findings = gates.pip_audit_findings(_report(args.report, "pip-audit"), osv.rater(args.osv_url))
    entries = _entries(args.allowlist, "pip-audit")
    policy = f"fails on {threshold.name} and above, and on unrated vulnerabilities"
    fails = gates.at_least(threshold)
    return gates.evaluate("pip-audit", findings, entries=entries, fails=fails, policy=policy, today=_today())


def _run_trivy(args: argparse.Namespace) -> gates.GateResult:
    severities = [Severity.parse(name) for name in str(args.severity).split(",") if name.strip()]
    if not severities:
        msg = "--severity needs at least one severity, e.g. CRITICAL"
        raise ValueError(msg)
    findings = gates.trivy_findings(_report(args.report, "Trivy"))
    entries = _entries(args.allowlist, "trivy")
    policy = "fails on " + ", ".join(severity.name for severity in sorted(set(severities)))
    fails = gates.one_of(severities)
    return gates.evaluate("trivy", findings, entries=entries, fails=fails, policy=policy, today=_today())


def _report(path: Path, tool: str) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        msg = f"no {tool} report at {path} (did the scan run?)"
        raise ValueError(msg) from None
    except json.JSONDecodeError as error:
        msg = f"{path} is not JSON: {error}"
        raise ValueError(msg) from None
    if not isinstance(document, dict):
        msg = f"{path} is not a {tool} JSON report"
        raise ValueError(msg)
    return document  # pyright: ignore[reportUnknownVariableType]


def _entries(path: Path | None, gate: str) -> list[allowlist.Entry]:
    if path is None:
        return []
    return allowlist.parse(path.read_text(encoding="utf-8"), gate)


def _today() -> date:
    """Today in UTC: allowlist expiry dates do not depend on the runner's time zone."""
    return datetime.now(UTC).date()
