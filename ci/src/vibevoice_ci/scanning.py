"""Scans and audits as one call runs them: tool pins resolved once, one time of the call for all.

The supply-chain object (audit, scan, SBOM, reports, gates) and the release both scan; within one
call every scan of an image carries the same cache buster, so the gate's scan and the evidence's are
one exec, while the next call scans anew (supply_chain.CACHE_BUSTER).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import dagger
from dagger import dag

from vibevoice_ci import artifacts, commands, supply_chain, trivy
from vibevoice_ci import audit as audit_commands
from vibevoice_ci.images import ImagePin
from vibevoice_ci.outcomes import raise_for_failures, run_steps


def now() -> str:
    """The time of the call, to the microsecond: the cache buster of its scans."""
    return datetime.now(UTC).isoformat()


@dataclass(frozen=True)
class Scanner:
    """Everything a call's scans and audit need; build it with `scanner()`."""

    source: dagger.Directory
    python: ImagePin
    uv: ImagePin
    trivy: ImagePin
    gate_tools: tuple[str, ...]
    fresh: str
    severity: str = "CRITICAL"
    db_repository: str = ""

    def gate_env(self) -> dagger.Container:
        return supply_chain.gate_env(self.python, self.source, self.gate_tools)

    def audited(self, osv_url: str, fail_on: str) -> dagger.Container:
        """The audit container after the gate ran on its report (exit code: the gate's)."""
        audited = supply_chain.audited(
            self.gate_env(), self.uv, self.source, osv_url=osv_url, fresh=self.fresh
        )
        gate = audit_commands.gate_pip_audit(
            fail_on=fail_on, osv_url=osv_url, allowlist=f"{supply_chain.WORK}/{supply_chain.ALLOWLIST}"
        )
        return supply_chain.gated(audited, gate, audit_commands.GATE_VERDICT)

    def reports(self, image: dagger.Container) -> dagger.Container:
        """The gate container holding a scan's reports and the gate's verdict in /reports."""
        scanned = supply_chain.scanned(self.trivy, image, db_repository=self.db_repository, fresh=self.fresh)
        return supply_chain.trivy_gated(self.gate_env(), scanned, self.severity)

    def sboms(self, image: dagger.Container) -> dagger.Directory:
        return supply_chain.sboms(self.trivy, image)

    async def gate(self, table: Mapping[tuple[str, str], dagger.Container]) -> None:
        """Every image through the scan gate at once; one failure listing every image that failed."""

        def step(image: dagger.Container) -> Callable[[], Awaitable[None]]:
            async def run() -> None:
                await supply_chain.verdict(self.reports(image), supply_chain.TRIVY_GATE_VERDICT)

            return run

        steps = [(f"scan {name} {platform}", step(image)) for (name, platform), image in table.items()]
        raise_for_failures(await run_steps(steps), title="scan")

    def evidence(self, by_platform: Mapping[str, dagger.Container]) -> dagger.Directory:
        """Scan reports and SBOMs of one service's images, one folder per platform (never fails)."""
        evidence = dag.directory()
        for platform, image in by_platform.items():
            evidence = evidence.with_directory(
                platform.replace("/", "-"),
                self.reports(image).directory(trivy.REPORTS).with_directory(".", self.sboms(image)),
            )
        return evidence


async def scanner(
    source: dagger.Directory,
    *,
    severity: str = "CRITICAL",
    db_repository: str = "",
    redirects: Sequence[str] = (),
) -> Scanner:
    """A Scanner for one call: the pins read from ci/images, the gate's tools from the dev extra."""
    pyproject = await source.file("pyproject.toml").contents()
    return Scanner(
        source=source,
        python=await artifacts.tool_image(source, "python", redirects),
        uv=await artifacts.tool_image(source, "uv", redirects),
        trivy=await artifacts.tool_image(source, "trivy", redirects),
        gate_tools=tuple(commands.dev_requirement(pyproject, name) for name in ("pip-audit", "cvss")),
        fresh=now(),
        severity=severity,
        db_repository=db_repository,
    )
