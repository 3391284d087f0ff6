"""SLSA v1 build provenance of the release images, as an in-toto Statement v1.

The statement names each published image by digest (its subjects) and says how it was built: from
which repository, ref and commit (external parameters), with which build matrix (services, platforms,
targets), on which Dagger engine and with which tool and base images, each by digest where one is
known (resolved dependencies), by which workflow run (builder and invocation id) and when. cosign
attests the predicate part (`--type slsaprovenance1`) to each image; the whole statement goes into the
release evidence. `check_statement` is the shape the tests and the release hold every statement to.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from vibevoice_ci.core.jsondata import array, obj
from vibevoice_ci.core.metadata import commit_time
from vibevoice_ci.core.pins import ImagePin
from vibevoice_ci.core.tags import IMAGE_PREFIX
from vibevoice_ci.images import catalog
from vibevoice_ci.release import cosign
from vibevoice_ci.release.cosign import by_digest
from vibevoice_ci.supply_chain import trivy

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
GITHUB = "https://github.com"
PROVENANCE_PREDICATE = "provenance.predicate.json"


@dataclass(frozen=True)
class MatrixEntry:
    """One built variant: a service's Dockerfile and target for one platform."""

    service: str
    dockerfile: str
    target: str
    platform: str


@dataclass(frozen=True)
class Build:
    """Everything the provenance states about one release build."""

    github_repository: str  # owner/name, as github.repository gives it
    ref: str
    sha: str
    engine_version: str
    workflow_ref: str  # owner/name/.github/workflows/images.yml@refs/...
    run_id: str
    run_attempt: str
    started_on: str
    finished_on: str
    matrix: Sequence[MatrixEntry]
    tool_images: Sequence[ImagePin] = ()
    # as the Dockerfiles declare them -> the reference by digest the builds used (through the redirects)
    base_images: Mapping[str, str] = field(default_factory=dict[str, str])
    version: str = ""

    @property
    def source_url(self) -> str:
        """The repository's URL."""
        return f"{GITHUB}/{self.github_repository}"


def _purl(pin: ImagePin) -> str:
    """A package URL for a container image (pkg:docker/...), with its registry when not Docker Hub."""
    path = pin.repository
    if pin.registry != "docker.io":
        path = path.removeprefix(pin.registry + "/")
        return f"pkg:docker/{path}@{pin.tag}?repository_url={pin.registry}"
    return f"pkg:docker/{path.removeprefix('library/')}@{pin.tag}"


def _image_dependency(name: str, reference: str) -> dict[str, Any]:
    """A resolved dependency for an image reference, with its digest when the reference has one."""
    entry: dict[str, Any] = {"name": name, "uri": f"docker://{reference}"}
    if "@sha256:" in reference:
        entry["digest"] = {"sha256": reference.rsplit("@sha256:", 1)[1]}
    return entry


def predicate(build: Build) -> dict[str, Any]:
    """The SLSA v1 provenance predicate (buildDefinition and runDetails)."""
    if not build.matrix:
        msg = "a provenance needs at least one built variant"
        raise ValueError(msg)
    commit = build.sha.strip().lower()
    dependencies: list[dict[str, Any]] = [
        {"uri": f"git+{build.source_url}@{build.ref}", "digest": {"gitCommit": commit}},
        {
            "name": "dagger-engine",
            "uri": f"{GITHUB}/dagger/dagger/releases/tag/{build.engine_version}",
            "annotations": {"source": "dagger.json engineVersion"},
        },
    ]
    for pin in sorted(build.tool_images, key=lambda pin: pin.tool):
        dependencies.append(
            {
                "name": f"tool:{pin.tool}",
                "uri": _purl(pin),
                "digest": {"sha256": pin.digest.removeprefix("sha256:")},
            }
        )
    for declared, resolved in sorted(build.base_images.items()):
        dependencies.append(_image_dependency(f"base:{declared}", resolved))
    run = f"{build.source_url}/actions/runs/{build.run_id}/attempts/{build.run_attempt}"
    return {
        "buildDefinition": {
            "buildType": f"{build.source_url}/blob/{commit}/ci#release",
            "externalParameters": {
                "source": {"repository": build.source_url, "ref": build.ref, "commit": commit},
                "version": build.version,
                "matrix": [vars(entry) for entry in build.matrix],
            },
            "internalParameters": {
                "engineVersion": build.engine_version,
                "workflow": build.workflow_ref,
            },
            "resolvedDependencies": dependencies,
        },
        "runDetails": {
            "builder": {
                "id": f"{GITHUB}/{build.workflow_ref}",
                "version": {"dagger": build.engine_version},
            },
            "metadata": {
                "invocationId": run,
                "startedOn": commit_time(build.started_on),
                "finishedOn": commit_time(build.finished_on),
            },
        },
    }


def statement(subjects: Sequence[str], build: Build) -> dict[str, Any]:
    """The in-toto Statement v1 about `subjects` (references by digest) with the SLSA predicate."""
    pinned = sorted({by_digest(reference) for reference in subjects})
    if not pinned:
        msg = "a provenance statement needs at least one subject"
        raise ValueError(msg)
    document = {
        "_type": STATEMENT_TYPE,
        "subject": [
            {"name": reference.rsplit("@", 1)[0], "digest": {"sha256": reference.rsplit("@sha256:", 1)[1]}}
            for reference in pinned
        ],
        "predicateType": PREDICATE_TYPE,
        "predicate": predicate(build),
    }
    check_statement(document)
    return document


def check_statement(document: Mapping[str, Any]) -> None:
    """Raise ValueError unless `document` has the in-toto Statement v1 / SLSA v1 provenance shape."""
    problems: list[str] = []

    def need(condition: bool, problem: str) -> None:
        if not condition:
            problems.append(problem)

    need(document.get("_type") == STATEMENT_TYPE, f"_type must be {STATEMENT_TYPE}")
    need(document.get("predicateType") == PREDICATE_TYPE, f"predicateType must be {PREDICATE_TYPE}")
    subjects = array(document.get("subject"))
    need(bool(subjects), "subject must be a non-empty list")
    for subject in map(obj, subjects):
        sha = obj(subject.get("digest")).get("sha256")
        need(isinstance(sha, str) and len(sha) == 64, f"subject {subject!r} needs a sha256 digest")
    body = obj(document.get("predicate"))
    definition, details = obj(body.get("buildDefinition")), obj(body.get("runDetails"))
    need(bool(definition.get("buildType")), "buildDefinition.buildType is required")
    need(bool(obj(definition.get("externalParameters"))), "buildDefinition.externalParameters is required")
    for dependency in map(obj, array(definition.get("resolvedDependencies"))):
        need(
            any(key in dependency for key in ("uri", "digest", "content")),
            f"resolved dependency {dependency!r} needs a uri, digest or content",
        )
    need(bool(obj(details.get("builder")).get("id")), "runDetails.builder.id is required")
    problems.extend(_check_metadata(obj(details.get("metadata"))))
    if problems:
        raise ValueError("not a SLSA v1 provenance statement: " + "; ".join(problems))


def _check_metadata(metadata: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    if not metadata.get("invocationId"):
        problems.append("runDetails.metadata.invocationId is required")
    started, finished = metadata.get("startedOn", ""), metadata.get("finishedOn", "")
    if started and finished and started > finished:
        problems.append("runDetails.metadata.startedOn is after finishedOn")
    return problems


def now() -> str:
    """The current time, RFC 3339 in UTC: when a build started or finished (never an image's date)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def folder_of(reference: str) -> str:
    """The evidence folder of an image: its release image's key, from its repository and its tag
    (`.../vibevoice-tts:1.2.3@...` -> `tts`, `.../vibevoice-tts:1.2.3-cuda@...` -> `tts-cuda`)."""
    service = cosign.repository_of(reference).rsplit("/", 1)[-1].removeprefix(IMAGE_PREFIX)
    return catalog.release_image_of(service, cosign.tag_of(reference)).key


def attestations(build: Build, root: str, folder: str = "") -> list[cosign.Predicate]:
    """What is attested to one image, from its evidence folder at `root`: the provenance, and for each
    platform it was built for (the matrix entries of release image `folder`; "": every platform) the
    CycloneDX SBOM and Trivy's vulnerability report (cosign's vuln predicate)."""
    sbom = next(conversion for conversion in trivy.SBOM_FORMATS if conversion.format == "cyclonedx")
    vuln = next(conversion for conversion in trivy.CONVERSIONS if conversion.format == "cosign-vuln")
    predicates = [cosign.Predicate(cosign.PROVENANCE_TYPE, f"{root}/{PROVENANCE_PREDICATE}")]
    entries = [e for e in build.matrix if not folder or catalog.release_key(e.service, e.target) == folder]
    for platform in sorted({entry.platform for entry in entries}):
        folder = f"{root}/{platform.replace('/', '-')}"
        predicates.append(cosign.Predicate(cosign.SBOM_TYPE, f"{folder}/{sbom.filename}"))
        predicates.append(cosign.Predicate(cosign.VULN_TYPE, f"{folder}/{vuln.filename}"))
    return predicates
