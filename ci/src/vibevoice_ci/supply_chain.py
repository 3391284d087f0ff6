"""The containers of the supply-chain steps: audit, scan, SBOM, gates, cosign.

Wiring only, like main.py: which pinned image, which files and secrets where, which command lines
(from audit, trivy and cosign) in which order. main.py's functions resolve the pins and the inputs,
call these, and await the results. Every builder returns a lazily defined container, so the tests
read the query each one builds without an engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import dagger
from dagger import dag

from vibevoice_ci import audit, commands, cosign, toolchain, trivy
from vibevoice_ci.images import ImagePin

ALLOWLIST = "security/allowlist.toml"
GATE_CODE = "/opt/vibevoice-ci"  # the module's own package, for `python -m vibevoice_ci gate`
WORK = "/work"
TRIVY_GATE_VERDICT = f"{trivy.REPORTS}/trivy-gate.txt"
COSIGN_HOME = "/root"
# Set, just before an exec that reads an advisory database, to the time of the call: the engine reuses
# an exec whose inputs are unchanged even when the function's own cache is off, and a result from
# before the latest advisories must never be replayed.
CACHE_BUSTER = "CACHE_BUSTER"

GATE_ERRORS_SUFFIX = ".errors"  # a gate's stderr, beside its verdict file


class GateFailed(Exception):
    """A security gate failed (or could not decide); the message is its verdict."""


@dataclass(frozen=True)
class Signer:
    """How cosign signs: exactly one of a key, an OIDC token, or GitHub's token request credentials.

    GitHub's ID tokens expire five minutes after they are issued, sooner than a release takes; with
    ACTIONS_ID_TOKEN_REQUEST_TOKEN and _URL cosign asks GitHub for a fresh token at each signature.
    """

    key: dagger.Secret | None = None
    key_password: dagger.Secret | None = None
    id_token: dagger.Secret | None = None
    oidc_request_token: dagger.Secret | None = None
    oidc_request_url: dagger.Secret | None = None

    @property
    def keyed(self) -> bool:
        """Signing with a key rather than keyless."""
        return self.key is not None

    def check(self) -> None:
        """Exactly one identity, given completely."""
        github = (self.oidc_request_token, self.oidc_request_url)
        if any(github) and not all(github):
            msg = "GitHub keyless signing needs both oidc-request-token and oidc-request-url"
            raise ValueError(msg)
        chosen = sum((self.key is not None, self.id_token is not None, all(github)))
        if chosen != 1:
            msg = "sign with exactly one of: --key, --id-token, --oidc-request-token with --oidc-request-url"
            raise ValueError(msg)
        if self.key_password is not None and self.key is None:
            msg = "--key-password without --key"
            raise ValueError(msg)

    def apply(self, container: dagger.Container) -> dagger.Container:
        """The container with the identity in place: secrets as files or variables, never arguments."""
        self.check()
        if self.key is not None:
            container = container.with_mounted_secret(cosign.KEY_PATH, self.key)
            if self.key_password is not None:
                container = container.with_secret_variable("COSIGN_PASSWORD", self.key_password)
            return container
        if self.id_token is not None:
            return container.with_secret_variable("SIGSTORE_ID_TOKEN", self.id_token)
        assert self.oidc_request_token is not None  # check() above
        assert self.oidc_request_url is not None
        return container.with_secret_variable(
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN", self.oidc_request_token
        ).with_secret_variable("ACTIONS_ID_TOKEN_REQUEST_URL", self.oidc_request_url)


def gate_env(python: ImagePin, source: dagger.Directory, requirements: Sequence[str]) -> dagger.Container:
    """The pinned Python with the gate's tools (pip-audit, cvss) and this module's own package."""
    return (
        dag.container()
        .from_(python.reference)
        .with_mounted_cache(toolchain.PIP_CACHE_PATH, dag.cache_volume(toolchain.PIP_CACHE_VOLUME))
        .with_exec(commands.pip_install(requirements))
        .with_directory(GATE_CODE, source.directory("ci/src"))
        .with_env_variable("PYTHONPATH", GATE_CODE)
        .with_file(f"{WORK}/{ALLOWLIST}", source.file(ALLOWLIST))
        .with_workdir(WORK)
    )


def audited(
    env: dagger.Container,
    uv: ImagePin,
    source: dagger.Directory,
    *,
    osv_url: str,
    fresh: str,
    extras: Sequence[str] = (),
) -> dagger.Container:
    """The services' dependency set exported with hashes and audited as of `fresh` (the time of the
    call); the reports in /reports."""
    return (
        env.with_file("/usr/local/bin/uv", dag.container().from_(uv.reference).file("/uv"))
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


def sboms(pin: ImagePin, image: dagger.Container) -> dagger.Directory:
    """CycloneDX and SPDX SBOMs of an image's tarball."""
    container = trivy_env(pin).with_file(trivy.IMAGE_TARBALL, image.as_tarball())
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


def cosign_env(
    pin: ImagePin,
    signer: Signer | None = None,
    registry_auth: dagger.Secret | None = None,
    *,
    tlog: bool = True,
) -> dagger.Container:
    """The pinned cosign, as root (to read mounted secrets), logged in and with an identity if given;
    without `tlog`, key-based signing and verifying that need no Sigstore service (air-gapped)."""
    container = dag.container().from_(pin.reference).with_user("0").with_env_variable("HOME", COSIGN_HOME)
    if not tlog:
        if signer is not None and not signer.keyed:
            msg = "keyless signing needs Sigstore's transparency log: --tlog=false goes with --key"
            raise ValueError(msg)
        for name, value in sorted(cosign.NO_TLOG_ENV.items()):
            container = container.with_env_variable(name, value)
    if registry_auth is not None:
        config = f"{cosign.DOCKER_CONFIG_DIR}/config.json"
        container = container.with_env_variable("DOCKER_CONFIG", cosign.DOCKER_CONFIG_DIR)
        container = container.with_mounted_secret(config, registry_auth)
    return signer.apply(container) if signer is not None else container
