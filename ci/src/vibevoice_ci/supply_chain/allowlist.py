"""The security allowlist: known vulnerabilities accepted for a while, each with a reason and an end.

One TOML file in the repository (security/allowlist.toml), one table array per gate:

    [[pip-audit]]
    id = "GHSA-462w-v97r-4m45"     # the reported id or any of its aliases
    package = "jinja2"             # optional: only for this package
    reason = "sandbox not used; upgrade blocked by X (issue #12)"
    expires = 2026-03-31           # a TOML date; the entry stops applying after this day

    [[trivy]]
    id = "CVE-2024-0001"
    reason = "..."
    expires = 2026-02-28

An entry without a reason or an expiry date is an error, and so is an entry past its expiry: the
gate fails on it even if the vulnerability is gone, so the file is cleaned up rather than left to
rot. So is an entry whose expiry lies more than MAX_TERM ahead: an accepted risk is judged again at
least that often (the CUDA base image's unfixed CVEs, say, each time a fix may have appeared).
Entries that match nothing are reported, not failed.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

GATES = ("pip-audit", "trivy")
MAX_TERM = timedelta(days=90)


@dataclass(frozen=True)
class Entry:
    """One accepted vulnerability."""

    id: str
    reason: str
    expires: date
    package: str = ""

    def applies_to(self, ids: Iterable[str], package: str) -> bool:
        """Whether this entry names one of `ids` (any case) and, if it names a package, `package`."""
        if self.package and normalized(self.package) != normalized(package):
            return False
        wanted = self.id.casefold()
        return any(candidate.casefold() == wanted for candidate in ids)

    def expired(self, today: date) -> bool:
        """True after the expiry date (the entry still applies on that day)."""
        return today > self.expires

    def overlong(self, today: date) -> bool:
        """True when the expiry lies more than MAX_TERM after `today`."""
        return self.expires - today > MAX_TERM

    def describe(self) -> str:
        """e.g. "GHSA-xxxx (jinja2) until 2026-03-31: reason"."""
        scope = f" ({self.package})" if self.package else ""
        return f"{self.id}{scope} until {self.expires.isoformat()}: {self.reason}"


def normalized(name: str) -> str:
    """A package name compared the way pip compares it (PEP 503), which is harmless for OS packages."""
    return re.sub(r"[-_.]+", "-", name.strip()).lower()


def parse(text: str, gate: str) -> list[Entry]:
    """The entries of `gate` in an allowlist file's text; ValueError naming the faulty entry."""
    if gate not in GATES:
        msg = f"unknown gate {gate!r}; choose one of: {', '.join(GATES)}"
        raise ValueError(msg)
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        msg = f"the allowlist is not valid TOML: {error}"
        raise ValueError(msg) from None
    unknown = sorted(set(document) - set(GATES))
    if unknown:
        msg = f"the allowlist has unknown sections {unknown}; expected {list(GATES)}"
        raise ValueError(msg)
    raw = document.get(gate, [])
    if not isinstance(raw, list):
        msg = f"[{gate}] must be an array of tables: [[{gate}]]"
        raise ValueError(msg)
    return [_entry(gate, index, item) for index, item in enumerate(raw, start=1)]  # pyright: ignore[reportUnknownArgumentType, reportUnknownVariableType]


def _entry(gate: str, index: int, item: Any) -> Entry:
    where = f"allowlist [[{gate}]] entry {index}"
    if not isinstance(item, dict):
        msg = f"{where} is not a table"
        raise ValueError(msg)
    fields: dict[str, Any] = dict(item)  # pyright: ignore[reportUnknownArgumentType]
    unknown = sorted(set(fields) - {"id", "package", "reason", "expires"})
    if unknown:
        msg = f"{where} has unknown keys {unknown}"
        raise ValueError(msg)
    vuln_id, reason, package = fields.get("id"), fields.get("reason"), fields.get("package", "")
    expires = fields.get("expires")
    if not isinstance(vuln_id, str) or not vuln_id.strip():
        msg = f"{where} needs an id (the vulnerability id or one of its aliases)"
        raise ValueError(msg)
    if not isinstance(reason, str) or not reason.strip():
        msg = f"{where} ({vuln_id}) needs a reason"
        raise ValueError(msg)
    if not isinstance(expires, date) or isinstance(expires, datetime):
        msg = f"{where} ({vuln_id}) needs an expiry date, e.g. expires = 2026-03-31 (a TOML date, unquoted)"
        raise ValueError(msg)
    if not isinstance(package, str):
        msg = f"{where} ({vuln_id}): package must be a string"
        raise ValueError(msg)
    return Entry(id=vuln_id.strip(), reason=reason.strip(), expires=expires, package=package.strip())
