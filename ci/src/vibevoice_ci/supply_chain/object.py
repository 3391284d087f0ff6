"""The supply-chain concern's checks and reports: pip-audit of the dependencies, Trivy on the images.

Never replayed: every function here opts out of the function cache, and the exec that reads an
advisory database carries the time of the call (scanner.Scanner), so a second call scans anew. The
logic is in audit, trivy and gates; the containers in containers and scanner. Signing, attesting
and verifying published images are the release's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import dagger
from dagger import Doc, dag, object_type

from vibevoice_ci.core.decorators import check, function
from vibevoice_ci.core.metadata import BuildInfo
from vibevoice_ci.core.toolchain import Toolchain, call_time
from vibevoice_ci.images.build import variants
from vibevoice_ci.images.catalog import DEFAULT_PLATFORMS
from vibevoice_ci.supply_chain import audit, containers, osv, trivy
from vibevoice_ci.supply_chain.scanner import Scanner, scanner

PlatformsArg = Annotated[Sequence[str], Doc("platforms to build for")]
SeverityArg = Annotated[str, Doc("comma-separated Trivy severities that fail the scan gate")]
DbRepositoryArg = Annotated[
    str, Doc("Trivy DB repository (a mirror); empty: the module's --trivy-db-repository")
]


@object_type
class SupplyChain:
    """Dependency audit, image scans and SBOMs, each judged by its gate with security/allowlist.toml."""

    toolchain: Toolchain
    # Where the advisories come from, also for the checks (which take no arguments): main's --osv-url
    # and --trivy-db-repository, so `dagger check` can pass behind a firewall.
    osv_url: str = osv.DEFAULT_OSV_URL
    db_repository: str = ""

    @function(cache="never")
    async def audit_report(
        self,
        osv_url: Annotated[str, Doc("OSV API base URL; default: the module's --osv-url")] = "",
        fail_on: Annotated[
            str, Doc("the lowest severity that fails the audit gate: low, medium, high, critical")
        ] = "low",
    ) -> dagger.Directory:
        """pip-audit of the services' pinned, hashed dependencies and the gate's verdict; never fails."""
        audited = (await self._scanner()).audited(osv_url or self.osv_url, fail_on)
        return audited.directory(audit.REPORTS)

    @function(cache="never")
    @check
    async def audit(self) -> None:
        """pip-audit of the services' dependencies: fails on any known vulnerability not allowlisted."""
        audited = (await self._scanner()).audited(self.osv_url, "low")
        await containers.verdict(audited, audit.GATE_VERDICT)

    @function(cache="never")
    async def scan(
        self,
        image: Annotated[dagger.Container, Doc("the image to scan, before it is pushed anywhere")],
        severity: SeverityArg = "CRITICAL",
        db_repository: DbRepositoryArg = "",
        enforce: Annotated[
            bool, Doc("fail when the gate fails; false: return the reports regardless")
        ] = True,
    ) -> dagger.Directory:
        """Trivy on the image's tarball: JSON, SARIF, table, gate verdict; fails on --severity findings."""
        reports = (await self._scanner(severity, db_repository)).reports(image)
        if enforce:
            await containers.verdict(reports, containers.TRIVY_GATE_VERDICT)
        return reports.directory(trivy.REPORTS)

    @function(cache="never")
    async def sbom(
        self, image: Annotated[dagger.Container, Doc("the image to describe")]
    ) -> dagger.Directory:
        """CycloneDX and SPDX SBOMs of an image (Trivy on its tarball)."""
        return containers.sboms(await self.toolchain.tool("trivy"), image, fresh=call_time())

    @function(cache="never")
    async def security_report(
        self,
        platforms: PlatformsArg = DEFAULT_PLATFORMS,
        severity: SeverityArg = "CRITICAL",
        db_repository: DbRepositoryArg = "",
    ) -> dagger.Directory:
        """The audit, and every shipped image's scan and SBOMs, with each gate's verdict; never fails."""
        scanner = await self._scanner(severity, db_repository)
        evidence = dag.directory().with_directory(
            "audit", scanner.audited(self.osv_url, "low").directory(audit.REPORTS)
        )
        for (name, platform), image in (await variants(self.toolchain, platforms, BuildInfo())).items():
            evidence = evidence.with_directory(name, scanner.evidence({platform: image}))
        return evidence

    @function(cache="never")
    @check
    async def scan_images(self, platforms: PlatformsArg = DEFAULT_PLATFORMS) -> None:
        """Trivy on every shipped image and platform: fails if any has a CRITICAL finding not allowlisted."""
        await (await self._scanner()).gate(await variants(self.toolchain, platforms, BuildInfo()))

    async def _scanner(self, severity: str = "CRITICAL", db_repository: str = "") -> Scanner:
        """The scanner of one call, its Trivy database the module's unless one is given."""
        return await scanner(
            self.toolchain, severity=severity, db_repository=db_repository or self.db_repository
        )
