"""Who releases what, and who signs it: the values a release is given once, as `release`'s flags.

A release's steps (publish, sign, attest, verify) take only their own arguments; the registry and its
credentials, the repository, the commit and the workflow run are one `Identity`, the signer one
`Signer`, both fields of the Release object (Dagger passes them along as the object's state).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import dagger

from vibevoice_ci.core.metadata import BuildInfo, release_build_info
from vibevoice_ci.core.tags import release_version
from vibevoice_ci.images import catalog
from vibevoice_ci.images.catalog import ReleaseImage
from vibevoice_ci.release.cosign import KEY_PATH, NO_TLOG_ENV, RELEASE_WORKFLOW
from vibevoice_ci.release.provenance import GITHUB

COSIGN_HOME = "/root"


class MissingCredentials(ValueError):
    """A step that writes to the registry was called without a password."""


@dataclass(frozen=True)
class Identity:
    """The registry and its credentials, the repository on GitHub, the commit and the workflow run."""

    registry: str = "ghcr.io"
    username: str = ""
    password: dagger.Secret | None = None
    github_repository: str = ""  # owner/name, as github.repository gives it
    ref: str = ""
    sha: str = ""
    run_id: str = ""
    run_attempt: str = ""
    workflow_ref: str = ""

    @property
    def source_url(self) -> str:
        """The repository's URL on GitHub ("" when none is given)."""
        return f"{GITHUB}/{self.github_repository}" if self.github_repository else ""

    @property
    def workflow(self) -> str:
        """The workflow that releases (github.workflow_ref), or the release workflow at this ref."""
        return (
            self.workflow_ref or f"{self.github_repository}/.github/workflows/{RELEASE_WORKFLOW}@{self.ref}"
        )

    def credentials(self) -> dagger.Secret:
        """The registry password; a clear error when a step that writes was given none."""
        if self.password is None:
            msg = "publishing needs the registry password: release --password env://NAME"
            raise MissingCredentials(msg)
        return self.password

    def images(self, *, cuda: bool) -> tuple[ReleaseImage, ...]:
        """The shipped images, and the CUDA one on a release tag or when asked for."""
        return catalog.release_images(cuda=cuda or release_version(self.ref) is not None)

    def references(self, images: Sequence[ReleaseImage], repository: str) -> dict[str, list[str]]:
        """Every reference each image is published under (the ref and the commit validated)."""
        return catalog.release_references(images, self.registry, repository, self.ref, self.sha)

    def build_info(self, created: str, source_url: str = "") -> BuildInfo:
        """What the published images say about themselves (their source: this repository's URL)."""
        return release_build_info(
            ref=self.ref, sha=self.sha, created=created, source=source_url or self.source_url
        )


@dataclass(frozen=True)
class Signer:
    """How cosign signs: exactly one of a key, an OIDC token, or GitHub's token request credentials.

    GitHub's ID tokens expire five minutes after they are issued, sooner than a release takes; with
    ACTIONS_ID_TOKEN_REQUEST_TOKEN and _URL cosign asks GitHub for a fresh token at each signature.
    Without Sigstore's transparency log (`tlog`), signing needs a key and nothing reaches Sigstore.
    """

    key: dagger.Secret | None = None
    key_password: dagger.Secret | None = None
    id_token: dagger.Secret | None = None
    oidc_request_token: dagger.Secret | None = None
    oidc_request_url: dagger.Secret | None = None
    tlog: bool = True
    # The registry speaks plain HTTP: cosign (go-containerregistry) uses HTTP on its own only for
    # localhost, private IP addresses and *.local, so a loopback or in-house registry named by host
    # needs it said (found releasing to reg.internal:5050 on an offline engine).
    http_registry: bool = False

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
        if not self.tlog and not self.keyed:
            msg = "keyless signing needs Sigstore's transparency log: --tlog=false goes with --key"
            raise ValueError(msg)

    def environment(self) -> dict[str, str]:
        """cosign's plain environment: its home (for its own files), and without the transparency log,
        what keeps cosign from reaching Sigstore at all (found on an offline engine: cosign v3 fetched
        Sigstore's signing config even to sign with a key), and plain HTTP where the registry speaks it."""
        return {
            "HOME": COSIGN_HOME,
            **({} if self.tlog else NO_TLOG_ENV),
            **({"COSIGN_ALLOW_HTTP_REGISTRY": "true"} if self.http_registry else {}),
        }

    def apply(self, container: dagger.Container) -> dagger.Container:
        """The container with the identity in place: secrets as files or variables, never arguments."""
        self.check()
        if self.key is not None:
            container = container.with_mounted_secret(KEY_PATH, self.key)
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
