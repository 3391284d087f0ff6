"""The containers of the supply-chain steps: the audit, the scan and the SBOMs, and their gates.

Wiring only: which pinned image, which files where, which command lines (from audit and trivy) in
which order. An exec that reads an advisory database, or describes an image as of now, carries the
time of the call (core.toolchain.CACHE_BUSTER): the engine reuses an exec whose inputs are unchanged
even when the function's own cache is off, and a result from before the latest advisories must never
be replayed.
"""

from __future__ import annotations

from collections.abc import Sequence

import dagger
from dagger import dag

from vibevoice_ci.core import commands
from vibevoice_ci.core.pins import ImagePin
from vibevoice_ci.core.toolchain import CACHE_BUSTER, with_pip_cache
from vibevoice_ci.supply_chain import audit, trivy

ALLOWLIST = "security/allowlist.toml"
GATE_CODE = "/opt/vibevoice-ci"  # the module's own package, for `python -m vibevoice_ci gate`
WORK = "/work"
TRIVY_GATE_VERDICT = f"{trivy.REPORTS}/trivy-gate.txt"
GATE_ERRORS_SUFFIX = ".errors"  # a gate's stderr, beside its verdict file


class GateFailed(Exception):
    """A security gate failed (or could not decide); the message is its verdict."""


def gate_env(python: ImagePin, source: dagger.Directory, requirements: Sequence[str]) -> dagger.Container:
    """The pinned Python with the gate's tools (pip-audit, cvss) and this module's own package."""
    return (
        with_pip_cache(dag.container().from_(python.reference))
        .with_exec(commands.pip_install(requirements))
        .with_directory(GATE_CODE, source.directory("ci/src"))
        .with_env_variable("PYTHONPATH", GATE_CODE)
        .with_file(f"{WORK}/{ALLOWLIST}", source.file(ALLOWLIST))
        .with_workdir(WORK)
    )


def audited(
    env: dagger.Container,
    uv: dagger.File,
    source: dagger.Directory,
    *,
    osv_url: str,
    fresh: str,
    extras: Sequence[str] = (),
) -> dagger.Container:
    """The services' dependency set exported with hashes and audited as of `fresh` (the time of the
    call); the reports in /reports."""
    return (
        env.with_file("/usr/local/bin/uv", uv)
        .with_file(f"{WORK}/pyproject.toml", source.file("pyproject.toml"))
        .with_exec(["mkdir", "-p", audit.REPORTS])
        .with_exec(audit.export_requirements(extras=extras))
        .with_env_variable(CACHE_BUSTER, fresh)
        # pip-audit's exit status means "found something" and "broke" alike: the gate reads the report.
        .with_exec(
            audit.pip_audit(osv_url=osv_url),
            expect=dagger.ReturnType.ANY,
            redirect_stderr=audit.PIP_AUDIT_LOG,
        )
    )


def gated(container: dagger.Container, gate: Sequence[str], verdict: str) -> dagger.Container:
    """`container` after a gate ran: its verdict at `verdict` and, beside it, what it said on stderr
    (why it could not decide, exit 2); its exit code the container's."""
    return container.with_exec(
        list(gate),
        expect=dagger.ReturnType.ANY,
        redirect_stdout=verdict,
        redirect_stderr=errors_of(verdict),
    )


def errors_of(verdict: str) -> str:
    """Where a gate's stderr goes, beside its verdict."""
    return f"{verdict}{GATE_ERRORS_SUFFIX}"


def trivy_env(pin: ImagePin) -> dagger.Container:
    """The pinned Trivy with its database cache, one writer at a time (LOCKED)."""
    return (
        dag.container()
        .from_(pin.reference)
        .with_mounted_cache(
            trivy.CACHE_DIR, dag.cache_volume(trivy.CACHE_VOLUME), sharing=dagger.CacheSharingMode.LOCKED
        )
        .with_exec(["mkdir", "-p", trivy.REPORTS])
    )


def scanned(pin: ImagePin, image: dagger.Container, *, db_repository: str, fresh: str) -> dagger.Directory:
    """Trivy's JSON report of an image's tarball (scanned before any push) as of `fresh` (the time of
    the call: its database is updated then), and its conversions."""
    scan = (
        trivy_env(pin)
        .with_file(trivy.IMAGE_TARBALL, image.as_tarball())
        .with_env_variable(CACHE_BUSTER, fresh)
        .with_exec(trivy.scan(db_repository=db_repository))
    )
    for conversion in trivy.CONVERSIONS:
        scan = scan.with_exec(trivy.convert(conversion))
    return scan.directory(trivy.REPORTS)


def sboms(pin: ImagePin, image: dagger.Container, *, fresh: str) -> dagger.Directory:
    """CycloneDX and SPDX SBOMs of an image's tarball as of `fresh` (the time of the call): an SBOM
    states when it was made, so a replayed one would date a new release's evidence to an old call."""
    container = (
        trivy_env(pin)
        .with_file(trivy.IMAGE_TARBALL, image.as_tarball())
        .with_env_variable(CACHE_BUSTER, fresh)
    )
    for sbom_format in trivy.SBOM_FORMATS:
        container = container.with_exec(trivy.sbom(sbom_format))
    return container.directory(trivy.REPORTS)


def trivy_gated(env: dagger.Container, reports: dagger.Directory, severities: str) -> dagger.Container:
    """The Trivy gate on a scan's reports; the reports and the verdict in /reports."""
    return gated(
        env.with_directory(trivy.REPORTS, reports),
        trivy.gate_trivy(severities=severities, allowlist=f"{WORK}/{ALLOWLIST}"),
        TRIVY_GATE_VERDICT,
    )


async def verdict(container: dagger.Container, path: str) -> None:
    """Raise GateFailed with the verdict and the gate's errors unless it passed (exit 0).

    A gate that could not decide (OSV unreachable, a malformed report) prints nothing on stdout and
    its reason on stderr: both are in the message, so a failed check always says why.
    """
    if await container.exit_code() != 0:
        said = [await container.file(p).contents() for p in (path, errors_of(path))]
        raise GateFailed(
            "\n".join(part.strip() for part in said if part.strip()) or "the gate failed silently"
        )
