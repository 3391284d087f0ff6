"""The security gates' pure logic: severities and CVSS, OSV ratings, the allowlist, verdicts, reports."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import pytest
from supply_chain_support import FIXTURES, JINJA2_HIGH, JINJA2_MODERATE, advisories
from vibevoice_ci.supply_chain import allowlist, gates
from vibevoice_ci.supply_chain.gates import Finding, Status
from vibevoice_ci.supply_chain.severity import UNRATED, Rating, Severity, cvss_score, from_score, osv_rating

TODAY = date(2026, 1, 20)


# -- severities and CVSS ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vector", "score"),
    [
        ("CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:N/A:N", 8.6),  # GHSA-462w-v97r-4m45
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L", 5.3),  # GHSA-g3rq-g295-4j3m
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
        ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 9.3),
        ("AV:N/AC:L/Au:N/C:P/I:P/A:P", 7.5),  # CVSS v2
    ],
)
def test_cvss_base_scores(vector: str, score: float) -> None:
    assert cvss_score(vector) == score


def test_a_malformed_vector_is_an_error() -> None:
    with pytest.raises(ValueError, match="malformed CVSS vector"):
        cvss_score("CVSS:3.1/AV:Q")


@pytest.mark.parametrize(
    ("score", "severity"),
    [
        (0.0, Severity.LOW),
        (3.9, Severity.LOW),
        (4.0, Severity.MEDIUM),
        (6.9, Severity.MEDIUM),
        (7.0, Severity.HIGH),
        (8.9, Severity.HIGH),
        (9.0, Severity.CRITICAL),
        (10.0, Severity.CRITICAL),
    ],
)
def test_qualitative_ratings_of_scores(score: float, severity: Severity) -> None:
    assert from_score(score) is severity


def test_severity_names_as_databases_write_them() -> None:
    assert Severity.parse("moderate") is Severity.MEDIUM
    assert Severity.parse(" CRITICAL ") is Severity.CRITICAL
    with pytest.raises(ValueError, match="unknown severity 'severe'"):
        Severity.parse("severe")


def test_unknown_ranks_above_critical_so_no_threshold_lets_it_through() -> None:
    assert all(gates.at_least(threshold)(Severity.UNKNOWN) for threshold in Severity)


# -- OSV ratings --------------------------------------------------------------------------------------


def test_the_real_advisories_are_rated_from_their_cvss_vectors() -> None:
    records = advisories()
    assert osv_rating(records[JINJA2_HIGH]) == Rating(Severity.HIGH, 8.6, "CVSS_V3 8.6")
    assert osv_rating(records[JINJA2_MODERATE]) == Rating(Severity.MEDIUM, 5.3, "CVSS_V3 5.3")


def test_the_highest_cvss_rating_counts() -> None:
    record = {
        "severity": [
            {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L"},
            {"type": "CVSS_V4", "score": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"},
            {"type": "Ubuntu", "score": "high"},
        ]
    }
    assert osv_rating(record) == Rating(Severity.CRITICAL, 9.3, "CVSS_V4 9.3")


def test_without_a_vector_the_database_severity_counts_and_without_either_it_is_unknown() -> None:
    assert osv_rating({"database_specific": {"severity": "MODERATE"}}).severity is Severity.MEDIUM
    assert osv_rating({"id": "PYSEC-2021-13"}) == UNRATED
    assert UNRATED.describe() == "UNKNOWN (no severity in the record)"


# -- the allowlist ---------------------------------------------------------------------------------


ALLOWLIST = """
[[pip-audit]]
id = "CVE-2019-10906"
package = "Jinja2"
reason = "the sandbox is not used"
expires = 2026-01-20

[[trivy]]
id = "CVE-2023-45853"
reason = "minizip is not built into zlib1g"
expires = 2026-02-01
"""


def test_allowlist_entries_per_gate() -> None:
    (entry,) = allowlist.parse(ALLOWLIST, "pip-audit")
    assert entry == allowlist.Entry("CVE-2019-10906", "the sandbox is not used", date(2026, 1, 20), "Jinja2")
    assert [entry.id for entry in allowlist.parse(ALLOWLIST, "trivy")] == ["CVE-2023-45853"]


def test_an_entry_matches_any_alias_in_any_case_and_its_package_by_pip_rules() -> None:
    (entry,) = allowlist.parse(ALLOWLIST, "pip-audit")
    assert entry.applies_to(["GHSA-462w-v97r-4m45", "cve-2019-10906"], "jinja2")
    assert not entry.applies_to(["CVE-2019-10906"], "markupsafe")
    assert not entry.applies_to(["CVE-2020-28493"], "jinja2")


def test_an_entry_applies_through_its_expiry_day_and_not_after() -> None:
    (entry,) = allowlist.parse(ALLOWLIST, "pip-audit")
    assert not entry.expired(date(2026, 1, 20))
    assert entry.expired(date(2026, 1, 21))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[pip-audit]]\nid = "X"\nexpires = 2026-01-01\n', r"entry 1 \(X\) needs a reason"),
        ('[[pip-audit]]\nid = "X"\nreason = "r"\n', "needs an expiry date"),
        ('[[pip-audit]]\nid = "X"\nreason = "r"\nexpires = "2026-01-01"\n', "a TOML date, unquoted"),
        ('[[pip-audit]]\nid = "X"\nreason = "r"\nexpires = 2026-01-01T10:00:00Z\n', "needs an expiry date"),
        ('[[pip-audit]]\nreason = "r"\nexpires = 2026-01-01\n', "needs an id"),
        ('[[pip-audit]]\nid = "X"\nreason = "r"\nexpires = 2026-01-01\nowner = "me"\n', "unknown keys"),
        ('[[npm]]\nid = "X"\n', "unknown sections"),
        ("[pip-audit\n", "not valid TOML"),
    ],
)
def test_a_bad_allowlist_says_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        allowlist.parse(text, "pip-audit")


def test_the_repository_allowlist_is_valid() -> None:
    text = (FIXTURES.parents[2] / "security" / "allowlist.toml").read_text(encoding="utf-8")
    for gate in allowlist.GATES:
        allowlist.parse(text, gate)


# -- verdicts ------------------------------------------------------------------------------------------


def finding(
    vuln_id: str, severity: Severity, package: str = "jinja2", aliases: tuple[str, ...] = ()
) -> Finding:
    return Finding(vuln_id, package, "2.10", Rating(severity, None, "test"), aliases)


def evaluate(
    findings: list[Finding], entries: list[allowlist.Entry], threshold: Severity
) -> gates.GateResult:
    return gates.evaluate(
        "pip-audit", findings, entries=entries, fails=gates.at_least(threshold), policy="test", today=TODAY
    )


def test_findings_at_or_above_the_threshold_fail_and_the_rest_are_listed() -> None:
    result = evaluate([finding("A", Severity.HIGH), finding("B", Severity.MEDIUM)], [], Severity.HIGH)
    assert [(verdict.finding.id, verdict.status) for verdict in result.verdicts] == [
        ("A", Status.FAILED),
        ("B", Status.BELOW_THRESHOLD),
    ]
    assert not result.passed


def test_a_live_entry_allows_a_finding_by_alias() -> None:
    entry = allowlist.Entry("CVE-1", "accepted", TODAY + timedelta(days=30))
    result = evaluate([finding("GHSA-1", Severity.CRITICAL, aliases=("CVE-1",))], [entry], Severity.LOW)
    assert result.passed
    assert result.verdicts[0].status is Status.ALLOWED
    assert result.verdicts[0].entry == entry


def test_an_expired_entry_allows_nothing_and_fails_the_gate_by_itself() -> None:
    expired = allowlist.Entry("CVE-1", "accepted", TODAY - timedelta(days=1))
    result = evaluate([finding("CVE-1", Severity.LOW)], [expired], Severity.HIGH)
    assert result.verdicts[0].status is Status.BELOW_THRESHOLD
    assert result.expired == [expired]
    assert not result.passed
    assert "allowlist entry expired: CVE-1" in gates.render_text(result)


def test_an_entry_accepted_for_longer_than_the_term_allows_nothing_and_fails_the_gate() -> None:
    # An accepted risk is judged again at least every 90 days: the last day that is allowed, and one more.
    on_term = allowlist.Entry("CVE-1", "accepted", TODAY + allowlist.MAX_TERM)
    assert evaluate([finding("CVE-1", Severity.CRITICAL)], [on_term], Severity.LOW).passed
    overlong = allowlist.Entry("CVE-1", "accepted", TODAY + allowlist.MAX_TERM + timedelta(days=1))
    result = evaluate([finding("CVE-1", Severity.CRITICAL)], [overlong], Severity.LOW)
    assert result.verdicts[0].status is Status.FAILED
    assert result.overlong == [overlong]
    assert not result.passed
    assert "expires more than 90 days ahead: CVE-1" in gates.render_text(result)
    assert "more than 90 days ahead** (fails the gate)" in gates.render_markdown(result)


def test_unused_entries_are_noted_not_failed() -> None:
    unused = allowlist.Entry("CVE-9", "old", TODAY + timedelta(days=1))
    result = evaluate([], [unused], Severity.LOW)
    assert result.passed
    assert result.unused == [unused]
    assert "matches nothing" in gates.render_text(result)


def test_the_text_verdict_names_each_failure_with_its_severity() -> None:
    high = Finding(
        "CVE-2019-10906", "jinja2", "2.10", Rating(Severity.HIGH, 8.6, "CVSS_V3 8.6"), (), "2.10.1"
    )
    text = gates.render_text(evaluate([high], [], Severity.LOW))
    assert "FAIL  CVE-2019-10906 jinja2 2.10: HIGH (CVSS_V3 8.6); fixed in 2.10.1" in text
    assert text.splitlines()[-1].startswith("pip-audit: FAILED (test): 1 findings, 1 failing")


def test_the_markdown_report_is_a_table_of_every_finding() -> None:
    findings = [finding("A|B", Severity.HIGH), finding("C", Severity.LOW)]
    markdown = gates.render_markdown(evaluate(findings, [], Severity.HIGH))
    assert markdown.startswith("## pip-audit gate: FAILED\n")
    rows = [
        line for line in markdown.splitlines() if line.startswith("| failed") or line.startswith("| below")
    ]
    assert rows[0].startswith("| failed | A\\|B | jinja2 | 2.10 | HIGH (test)")
    assert rows[1].startswith("| below threshold | C |")


# -- reading reports ---------------------------------------------------------------------------------


def test_pip_audit_findings_carry_every_id_and_the_rating_of_the_lookup() -> None:
    report: dict[str, Any] = {
        "dependencies": [
            {
                "name": "jinja2",
                "version": "2.10",
                "vulns": [
                    {
                        "id": "CVE-2019-10906",
                        "aliases": ["GHSA-462w-v97r-4m45"],
                        "fix_versions": ["2.10.1"],
                        "description": "sandbox escape",
                    },
                ],
            },
            {"name": "markupsafe", "version": "1.1.0", "vulns": []},
        ],
        "fixes": [],
    }
    asked: list[list[str]] = []

    def rate(ids: Sequence[str]) -> Rating:
        asked.append(list(ids))
        return Rating(Severity.HIGH, 8.6, "CVSS_V3 8.6")

    (only,) = gates.pip_audit_findings(report, rate)
    assert asked == [["CVE-2019-10906", "GHSA-462w-v97r-4m45"]]
    assert (only.id, only.aliases, only.package, only.fixed_in) == (
        "CVE-2019-10906",
        ("GHSA-462w-v97r-4m45",),
        "jinja2",
        "2.10.1",
    )


def test_trivy_vulnerabilities_keep_trivys_severity_and_the_nvd_score() -> None:
    report = json.loads((FIXTURES / "trivy-vulnerabilities.json").read_text(encoding="utf-8"))
    found = {item.id: item for item in gates.trivy_findings(report)}
    assert set(found) == {"CVE-2023-45853", "CVE-2020-14343", "CVE-2019-10906"}
    pyyaml = found["CVE-2020-14343"]
    assert (pyyaml.package, pyyaml.version, pyyaml.fixed_in, pyyaml.target) == (
        "PyYAML",
        "5.3.1",
        "5.4",
        "Python",
    )
    assert pyyaml.rating == Rating(Severity.CRITICAL, 9.8, "ghsa; NVD 9.8")


@pytest.mark.parametrize("report", [{"Results": []}, {"SchemaVersion": 1}, {"dependencies": []}])
def test_a_report_of_another_shape_is_refused(report: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="not a Trivy JSON report"):
        gates.trivy_findings(report)
