"""How bad a vulnerability is: qualitative severities, CVSS scores, and an OSV record's rating.

The CVSS arithmetic (v2, v3.x, v4.0) is the `cvss` library's; this module only decides which of a
record's ratings counts. A record can carry several vectors (CVSS v3 and v4, say) and a database
severity (GitHub's "HIGH", "MODERATE", ...): the highest of the CVSS ratings counts, the database
severity only when there is no vector, and a record with neither is UNKNOWN. UNKNOWN ranks above
CRITICAL on purpose: a gate cannot show that an unrated vulnerability is below its threshold.
"""

# The cvss package ships no type information; this is the one module that calls it.
# pyright: reportMissingTypeStubs=false, reportUnknownMemberType=false, reportUnknownVariableType=false

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from cvss import CVSS2, CVSS3, CVSS4
from cvss.exceptions import CVSSError

from vibevoice_ci.core.jsondata import array, obj


class Severity(IntEnum):
    """Qualitative severity, in increasing order of concern."""

    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4
    UNKNOWN = 5

    @classmethod
    def parse(cls, text: str) -> Severity:
        """A severity name as OSV databases and Trivy write it ("MODERATE" is GitHub's MEDIUM)."""
        name = text.strip().upper()
        aliases = {"MODERATE": "MEDIUM", "NONE": "LOW", "NEGLIGIBLE": "LOW"}
        name = aliases.get(name, name)
        try:
            return cls[name]
        except KeyError:
            choices = ", ".join(member.name.lower() for member in cls)
            msg = f"unknown severity {text!r}; choose one of: {choices}"
            raise ValueError(msg) from None


def from_score(score: float) -> Severity:
    """The CVSS qualitative rating of a base score (0.0 counts as LOW, never as nothing)."""
    if not 0.0 <= score <= 10.0:
        msg = f"a CVSS score is between 0 and 10, not {score}"
        raise ValueError(msg)
    if score >= 9.0:
        return Severity.CRITICAL
    if score >= 7.0:
        return Severity.HIGH
    if score >= 4.0:
        return Severity.MEDIUM
    return Severity.LOW


def cvss_score(vector: str) -> float:
    """The base score of a CVSS v2, v3.x or v4.0 vector; ValueError if it is malformed."""
    text = vector.strip()
    try:
        if text.startswith("CVSS:4."):
            score: Any = CVSS4(text).base_score
        elif text.startswith("CVSS:3."):
            score = CVSS3(text).scores()[0]
        else:
            score = CVSS2(text).scores()[0]
    except CVSSError as error:
        msg = f"malformed CVSS vector {vector!r}: {error}"
        raise ValueError(msg) from None
    return float(score)


@dataclass(frozen=True)
class Rating:
    """A vulnerability's severity, its CVSS score if it has one, and where the rating came from."""

    severity: Severity
    score: float | None = None
    source: str = "no severity in the record"

    def describe(self) -> str:
        """e.g. "HIGH (CVSS_V3 8.6)" or "UNKNOWN (no severity in the record)"."""
        return f"{self.severity.name} ({self.source})"


UNRATED = Rating(Severity.UNKNOWN)


def osv_rating(record: Mapping[str, Any]) -> Rating:
    """The rating of an OSV record: its highest CVSS rating, else its database severity."""
    rated: list[Rating] = []
    for entry in map(obj, array(record.get("severity"))):
        kind = str(entry.get("type", ""))
        if not kind.startswith("CVSS_"):
            continue  # e.g. "Ubuntu" priorities: not a CVSS vector
        score = cvss_score(str(entry.get("score", "")))
        rated.append(Rating(from_score(score), score, f"{kind} {score:.1f}"))
    if rated:
        return max(rated, key=lambda rating: (rating.severity, rating.score or 0.0))
    database = obj(record.get("database_specific")).get("severity")
    if isinstance(database, str) and database.strip():
        try:
            return Rating(Severity.parse(database), None, f"database severity {database.strip()}")
        except ValueError:
            return UNRATED
    return UNRATED
