"""Scans and audits as one call runs them: tool pins resolved once, one time of the call for all.

The supply-chain object (audit, scan, SBOM, reports, gates) and the release both scan; within one
call every scan of an image carries the same time, so the gate's scan and the evidence's are one
exec, while the next call scans anew (core.toolchain.CACHE_BUSTER).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import dagger
from dagger import dag

from vibevoice_ci.core import commands
from vibevoice_ci.core.outcomes import raise_for_failures, run_steps
from vibevoice_ci.core.pins import ImagePin
from vibevoice_ci.core.toolchain import Toolchain, call_time
from vibevoice_ci.supply_chain import audit, containers, trivy


@dataclass(frozen=True)
class Scanner:
    """Everything a call's scans and audit need; build it with `scanner()`."""

    source: dagger.Directory
    python: ImagePin
    uv: dagger.File
    trivy: ImagePin
    gate_tools: tuple[str, ...]
    fresh: str
    severity: str = "CRITICAL"
    db_repository: str = ""

    def gate_env(self) -> dagger.Container:
        return containers.gate_env(self.python, self.source, self.gate_tools)

    def audited(self, osv_url: str, fail_on: str) -> dagger.Container:
        """The audit container after the gate ran on its report (exit code: the gate's)."""
        audited = containers.audited(self.gate_env(), self.uv, self.source, osv_url=osv_url, fresh=self.fresh)
        gate = audit.gate_pip_audit(
            fail_on=fail_on, osv_url=osv_url, allowlist=f"{containers.WORK}/{containers.ALLOWLIST}"
        )
        return containers.gated(audited, gate, audit.GATE_VERDICT)

    def reports(self, image: dagger.Container) -> dagger.Container:
        """The gate container holding a scan's reports and the gate's verdict in /reports."""
        scanned = containers.scanned(self.trivy, image, db_repository=self.db_repository, fresh=self.fresh)
        return containers.trivy_gated(self.gate_env(), scanned, self.severity)

    def sboms(self, image: dagger.Container) -> dagger.Directory:
        return containers.sboms(self.trivy, image, fresh=self.fresh)

    async def gate(self, table: Mapping[tuple[str, str], dagger.Container]) -> None:
        """Every image through the scan gate at once; one failure listing every image that failed."""

        def step(image: dagger.Container) -> Callable[[], Awaitable[None]]:
            async def run() -> None:
                await containers.verdict(self.reports(image), containers.TRIVY_GATE_VERDICT)

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


async def scanner(toolchain: Toolchain, *, severity: str = "CRITICAL", db_repository: str = "") -> Scanner:
    """A Scanner for one call: the tools through the toolchain, the gate's from the dev extra."""
    pyproject = await toolchain.source.file("pyproject.toml").contents()
    return Scanner(
        source=toolchain.source,
        python=await toolchain.tool("python"),
        uv=await toolchain.binary("uv"),
        trivy=await toolchain.tool("trivy"),
        gate_tools=tuple(commands.dev_requirement(pyproject, name) for name in ("pip-audit", "cvss")),
        fresh=call_time(),
        severity=severity,
        db_repository=db_repository,
    )
