"""cosign's command lines and what they sign over, and the SLSA v1 provenance statement.

No cosign, Sigstore or registry can be reached here: these are the pure functions the pipeline's
cosign container runs, checked argument by argument, and the provenance checked against the in-toto
Statement v1 and SLSA v1 shapes.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from dagger import dag
from vibevoice_ci.core.pins import ImagePin, parse_pin
from vibevoice_ci.release import cosign, provenance
from vibevoice_ci.release.identity import Signer

DIGEST = "sha256:" + "ab" * 32
TTS = f"ghcr.io/owner/project/vibevoice-tts:sha-0123456@{DIGEST}"
SHA = "0123456789abcdef0123456789abcdef01234567"
MATRIX = [
    ("tts", "cpu", "linux/amd64"),
    ("tts", "cpu", "linux/arm64"),
    ("agent", "agent", "linux/amd64"),
    ("agent", "agent", "linux/arm64"),
    ("tts", "cuda", "linux/amd64"),
]


# -- references by digest --------------------------------------------------------------------------


def test_references_are_reduced_to_name_and_digest() -> None:
    assert cosign.by_digest(TTS) == f"ghcr.io/owner/project/vibevoice-tts@{DIGEST}"
    assert cosign.digest_of(TTS) == DIGEST
    assert cosign.repository_of(TTS) == "ghcr.io/owner/project/vibevoice-tts"
    assert cosign.by_digest(f"localhost:5000/team/app@{DIGEST}") == f"localhost:5000/team/app@{DIGEST}"


@pytest.mark.parametrize(
    "reference", ["ghcr.io/owner/app:1.2.3", f"app@{DIGEST}", "ghcr.io/o/app@sha256:abc"]
)
def test_a_reference_without_a_full_digest_is_refused(reference: str) -> None:
    with pytest.raises(ValueError, match="not an image reference by digest"):
        cosign.by_digest(reference)


def test_the_tags_of_one_image_are_signed_once() -> None:
    tags = [TTS, TTS.replace("sha-0123456", "1.2.3"), TTS.replace("sha-0123456", "1")]
    assert cosign.unique_by_digest(tags) == [cosign.by_digest(TTS)]
    with pytest.raises(ValueError, match="no image references"):
        cosign.unique_by_digest([])


# -- signing -----------------------------------------------------------------------------------------


def signed_annotations() -> dict[str, str]:
    return cosign.signature_annotations(
        sha=SHA.upper(),
        run_id="123456",
        run_attempt="2",
        workflow_ref="owner/project/.github/workflows/images.yml@refs/heads/main",
        matrix=MATRIX,
    )


def test_signatures_carry_the_commit_the_run_and_the_build_matrix() -> None:
    assert signed_annotations() == {
        "dev.vibevoice.git-sha": SHA,
        "dev.vibevoice.workflow-run-id": "123456",
        "dev.vibevoice.workflow-run-attempt": "2",
        "dev.vibevoice.workflow-ref": "owner/project/.github/workflows/images.yml@refs/heads/main",
        "dev.vibevoice.services": "tts;agent",
        "dev.vibevoice.targets": "cpu;agent;cuda",
        "dev.vibevoice.platforms": "linux/amd64;linux/arm64",
        "dev.vibevoice.build-matrix": (
            "tts:cpu:linux/amd64;tts:cpu:linux/arm64;agent:agent:linux/amd64;agent:agent:linux/arm64;"
            "tts:cuda:linux/amd64"
        ),
    }
    with pytest.raises(ValueError, match="needs git-sha"):
        cosign.signature_annotations(sha=" ", run_id="", run_attempt="", workflow_ref="", matrix=[])


@pytest.mark.parametrize("unsafe", ["a,b", 'say "hi"', "k=v"])
def test_values_cosign_cannot_carry_are_refused_before_signing(unsafe: str) -> None:
    # cosign's -a reads CSV and splits on the first '=': such a value would fail mid-release.
    with pytest.raises(ValueError, match="workflow-ref"):
        cosign.signature_annotations(
            sha=SHA, run_id="1", run_attempt="1", workflow_ref=unsafe, matrix=[("tts", "cpu", "linux/amd64")]
        )


def test_the_registry_login_is_a_docker_config_never_an_argument() -> None:
    config = json.loads(cosign.docker_config("ghcr.io", "robot", "s3cret:with:colons"))
    token = config["auths"]["ghcr.io"]["auth"]
    assert base64.b64decode(token).decode() == "robot:s3cret:with:colons"
    with pytest.raises(ValueError, match="all needed"):
        cosign.docker_config("ghcr.io", "robot", "")


# -- verification ---------------------------------------------------------------------------------------


def test_the_identity_is_this_repositorys_release_workflow_on_main_or_a_release_tag() -> None:
    pattern = re.compile(cosign.identity_regexp("Owner/Project"))
    workflow = "https://github.com/Owner/Project/.github/workflows/images.yml"
    assert pattern.match(f"{workflow}@refs/heads/main")
    assert pattern.match(f"{workflow}@refs/tags/v1.2.3")
    assert not pattern.match(f"{workflow}@refs/heads/feature/x")  # not a release ref
    assert not pattern.match(f"{workflow}@refs/pull/1/merge")
    assert not pattern.match("https://github.com/Owner/Project/.github/workflows/ci.yml@refs/heads/main")
    assert not pattern.match("https://github.com/Other/Project/.github/workflows/images.yml@refs/heads/main")
    assert not pattern.match("https://github.com/Owner/ProjectX/.github/workflows/images.yml@refs/heads/main")
    assert not pattern.match(f"{workflow}xyml@refs/heads/main")  # the dots are literal
    with pytest.raises(ValueError, match="not a GitHub repository"):
        cosign.identity_regexp("https://github.com/Owner/Project")


def test_keyless_verification_pins_identity_issuer_and_repository() -> None:
    command = cosign.verify(TTS, "Owner/Project", {"dev.vibevoice.git-sha": SHA})
    options = dict(zip(command[2:-1:2], command[3:-1:2], strict=True))
    assert options == {
        "--certificate-identity-regexp": cosign.identity_regexp("Owner/Project"),
        "--certificate-oidc-issuer": "https://token.actions.githubusercontent.com",
        "--certificate-github-workflow-repository": "Owner/Project",
        "-a": f"dev.vibevoice.git-sha={SHA}",
        "--output": "json",
    }
    assert command[-1] == cosign.by_digest(TTS)


def test_each_attestation_type_is_verified_with_the_same_identity() -> None:
    for kind in cosign.VERIFIED_PREDICATES:
        command = cosign.verify_attestation(TTS, kind, "Owner/Project")
        assert command[command.index("--type") + 1] == kind
        assert "--certificate-oidc-issuer" in command
    keyed = cosign.verify_attestation(TTS, "vuln", "Owner/Project", keyed=True)
    assert keyed[keyed.index("--key") + 1] == cosign.PUBLIC_KEY_PATH
    assert "--certificate-oidc-issuer" not in keyed


def test_a_summary_of_verified_signatures() -> None:
    output = json.dumps([
        {
            "critical": {"identity": {"docker-reference": "ghcr.io/owner/project/vibevoice-tts"},
                         "image": {"docker-manifest-digest": DIGEST}, "type": "cosign container image signature"},  # noqa: E501
            "optional": {"Issuer": "https://token.actions.githubusercontent.com",
                         "Subject": "https://github.com/Owner/Project/.github/workflows/images.yml@refs/heads/main",
                         "dev.vibevoice.git-sha": SHA, "dev.vibevoice.workflow-run-id": "123456"},
        }
    ])  # fmt: skip
    summary = cosign.summarize_signatures(TTS, output)
    assert summary.splitlines() == [
        f"{cosign.by_digest(TTS)}: 1 verified signature(s)",
        f"  signed manifest {DIGEST} by https://github.com/Owner/Project/.github/workflows/images.yml@refs/heads/main"
        " (https://token.actions.githubusercontent.com)",
        f"    commit {SHA}, run 123456",
    ]
    with pytest.raises(ValueError, match="no verified signature"):
        cosign.summarize_signatures(TTS, "")


def test_a_summary_of_verified_attestations_reads_the_dsse_payloads() -> None:
    subject = {"name": "ghcr.io/owner/project/vibevoice-tts", "digest": {"sha256": "ab" * 32}}
    statement = {
        "_type": provenance.STATEMENT_TYPE,
        "predicateType": provenance.PREDICATE_TYPE,
        "subject": [subject],
    }
    payload = base64.b64encode(json.dumps(statement).encode()).decode()
    envelope = {
        "payloadType": "application/vnd.in-toto+json",
        "payload": payload,
        "signatures": [{"sig": "x"}],
    }
    summary = cosign.summarize_attestations(TTS, "slsaprovenance1", json.dumps(envelope) + "\n")
    assert summary.splitlines()[1] == (
        f"  {provenance.PREDICATE_TYPE} for ghcr.io/owner/project/vibevoice-tts@{DIGEST}"
    )


# -- provenance -------------------------------------------------------------------------------------


TRIVY = parse_pin("trivy", f"FROM aquasec/trivy:0.74.0@{DIGEST}\n")
COSIGN = parse_pin("cosign", f"FROM gcr.io/projectsigstore/cosign:v3.0.6@{DIGEST}\n")


def build(**changes: Any) -> provenance.Build:
    base = provenance.Build(
        github_repository="Owner/Project",
        ref="refs/tags/v1.2.3",
        sha=SHA,
        engine_version="v0.21.11",
        workflow_ref="Owner/Project/.github/workflows/images.yml@refs/tags/v1.2.3",
        run_id="123456",
        run_attempt="1",
        started_on="2026-01-20T10:00:00+00:00",
        finished_on="2026-01-20T10:30:00Z",
        matrix=[
            provenance.MatrixEntry("tts", "Dockerfile.tts", "cpu", "linux/amd64"),
            provenance.MatrixEntry("tts", "Dockerfile.tts", "cpu", "linux/arm64"),
        ],
        tool_images=[TRIVY, COSIGN],
        base_images={"python:3.12-slim": f"docker.io/library/python:3.12-slim@{DIGEST}"},
        version="1.2.3",
    )
    return replace(base, **changes)


def test_the_statement_is_in_toto_v1_about_each_image_digest() -> None:
    document = provenance.statement([TTS, TTS.replace("sha-0123456", "1.2.3")], build())
    assert document["_type"] == "https://in-toto.io/Statement/v1"
    assert document["predicateType"] == "https://slsa.dev/provenance/v1"
    assert document["subject"] == [
        {"name": "ghcr.io/owner/project/vibevoice-tts", "digest": {"sha256": "ab" * 32}}
    ]
    json.dumps(document)  # serializable as it is attested


def test_the_build_definition_names_source_matrix_engine_and_every_image() -> None:
    definition = provenance.predicate(build())["buildDefinition"]
    assert definition["buildType"] == f"https://github.com/Owner/Project/blob/{SHA}/ci#release"
    assert definition["externalParameters"]["source"] == {
        "repository": "https://github.com/Owner/Project",
        "ref": "refs/tags/v1.2.3",
        "commit": SHA,
    }
    assert [entry["platform"] for entry in definition["externalParameters"]["matrix"]] == [
        "linux/amd64",
        "linux/arm64",
    ]
    assert definition["internalParameters"]["engineVersion"] == "v0.21.11"
    dependencies = {entry.get("name", entry["uri"]): entry for entry in definition["resolvedDependencies"]}
    assert dependencies["git+https://github.com/Owner/Project@refs/tags/v1.2.3"]["digest"] == {
        "gitCommit": SHA
    }
    assert dependencies["dagger-engine"]["uri"].endswith("/dagger/dagger/releases/tag/v0.21.11")
    assert dependencies["tool:trivy"] == {"name": "tool:trivy", "uri": "pkg:docker/aquasec/trivy@0.74.0",
                                          "digest": {"sha256": "ab" * 32}}  # fmt: skip
    assert (
        dependencies["tool:cosign"]["uri"] == "pkg:docker/projectsigstore/cosign@v3.0.6?repository_url=gcr.io"
    )
    assert dependencies["base:python:3.12-slim"]["digest"] == {"sha256": "ab" * 32}


def test_the_run_details_name_the_workflow_run_and_its_times() -> None:
    details = provenance.predicate(build())["runDetails"]
    assert details["builder"] == {
        "id": "https://github.com/Owner/Project/.github/workflows/images.yml@refs/tags/v1.2.3",
        "version": {"dagger": "v0.21.11"},
    }
    assert details["metadata"] == {
        "invocationId": "https://github.com/Owner/Project/actions/runs/123456/attempts/1",
        "startedOn": "2026-01-20T10:00:00Z",
        "finishedOn": "2026-01-20T10:30:00Z",
    }


BREAKAGES: dict[str, Callable[[dict[str, Any]], object]] = {
    "_type must be": lambda doc: doc.update(_type="https://in-toto.io/Statement/v0.1"),
    "subject must be a non-empty list": lambda doc: doc.update(subject=[]),
    "needs a sha256 digest": lambda doc: doc["subject"][0]["digest"].update(sha256="abc"),
    "buildType is required": lambda doc: doc["predicate"]["buildDefinition"].pop("buildType"),
    "builder.id is required": lambda doc: doc["predicate"]["runDetails"]["builder"].pop("id"),
    "invocationId is required": lambda doc: doc["predicate"]["runDetails"]["metadata"].pop("invocationId"),
    "needs a uri": lambda doc: doc["predicate"]["buildDefinition"]["resolvedDependencies"].append(
        {"name": "x"}
    ),
}


@pytest.mark.parametrize("problem", BREAKAGES)
def test_the_shape_check_catches_a_broken_statement(problem: str) -> None:
    document = provenance.statement([TTS], build())
    BREAKAGES[problem](document)
    with pytest.raises(ValueError, match=re.escape(problem)):
        provenance.check_statement(document)


def test_a_build_that_finished_before_it_started_is_refused() -> None:
    with pytest.raises(ValueError, match="startedOn is after finishedOn"):
        provenance.statement([TTS], build(finished_on="2026-01-20T09:00:00Z"))


def test_what_is_attested_per_service_image() -> None:
    assert [(item.type, item.path) for item in provenance.attestations(build(), root="/evidence")] == [
        ("slsaprovenance1", "/evidence/provenance.predicate.json"),
        ("cyclonedx", "/evidence/linux-amd64/sbom.cdx.json"),
        ("vuln", "/evidence/linux-amd64/trivy.cosign-vuln.json"),
        ("cyclonedx", "/evidence/linux-arm64/sbom.cdx.json"),
        ("vuln", "/evidence/linux-arm64/trivy.cosign-vuln.json"),
    ]


def test_the_cuda_image_is_attested_for_the_one_platform_it_is_built_for() -> None:
    cuda = provenance.MatrixEntry("tts", "Dockerfile.tts", "cuda", "linux/amd64")
    with_cuda = build(matrix=[*build().matrix, cuda])
    assert [(item.type, item.path) for item in provenance.attestations(with_cuda, "/e", "tts-cuda")] == [
        ("slsaprovenance1", "/e/provenance.predicate.json"),
        ("cyclonedx", "/e/linux-amd64/sbom.cdx.json"),
        ("vuln", "/e/linux-amd64/trivy.cosign-vuln.json"),
    ]
    assert len(provenance.attestations(with_cuda, "/e", "tts")) == 5  # the CPU build: both platforms


def test_the_evidence_folder_is_the_release_image_named_by_repository_and_tag() -> None:
    assert provenance.folder_of(TTS) == "tts"
    assert provenance.folder_of(TTS.replace(":sha-0123456@", ":1.2.3-cuda@")) == "tts-cuda"
    assert provenance.folder_of(TTS.replace(":sha-0123456@", "@")) == "tts"  # no tag: the shipped one
    assert provenance.folder_of(TTS.replace("vibevoice-tts:", "vibevoice-agent:")) == "agent"


def test_pins_are_read_with_their_registry() -> None:
    assert isinstance(TRIVY, ImagePin)
    assert (TRIVY.registry, COSIGN.registry) == ("docker.io", "gcr.io")


# -- who signs ---------------------------------------------------------------------------------


def test_without_the_transparency_log_cosign_signs_and_verifies_with_a_key_and_no_network() -> None:
    # Found on an offline engine: cosign v3 fetched Sigstore's signing config even to sign with a key.
    # The environment is cosign's whether it signs or only verifies (release: signing.cosign_env).
    key = dag.set_secret("offline-key", "-----BEGIN-----")
    assert cosign.NO_TLOG_ENV.items() <= Signer(key=key, tlog=False).environment().items()
    assert "COSIGN_INSECURE_IGNORE_TLOG" in Signer(tlog=False).environment()
    assert not cosign.NO_TLOG_ENV.keys() & Signer(key=key).environment().keys()
    # a registry named by host that speaks HTTP (go-containerregistry assumes HTTPS but for localhost,
    # private addresses and *.local): cosign is told, and only when asked
    assert Signer(key=key, http_registry=True).environment()["COSIGN_ALLOW_HTTP_REGISTRY"] == "true"
    assert "COSIGN_ALLOW_HTTP_REGISTRY" not in Signer(key=key).environment()
    with pytest.raises(ValueError, match="goes with --key"):
        Signer(id_token=key, tlog=False).check()


@pytest.mark.parametrize(
    ("signer", "message"),
    [
        ({}, "exactly one of"),
        ({"key": "k", "id_token": "t"}, "exactly one of"),
        ({"oidc_request_token": "t"}, "needs both"),
        ({"id_token": "t", "key_password": "p"}, "--key-password without --key"),
    ],
)
def test_the_signing_identity_must_be_exactly_one(signer: dict[str, str], message: str) -> None:
    secrets: dict[str, Any] = {name: dag.set_secret(name, value) for name, value in signer.items()}
    with pytest.raises(ValueError, match=message):
        Signer(**secrets).check()
