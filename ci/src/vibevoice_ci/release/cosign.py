"""The command lines of signing, attesting and verifying with cosign, and what they sign over.

Everything is addressed by digest (`name@sha256:...`): a tag can move after it was signed, a digest
cannot. A multi-platform image is signed with `--recursive`, which signs the index and each
platform's manifest. Keyless signing takes its identity from the environment (SIGSTORE_ID_TOKEN, or
GitHub's ACTIONS_ID_TOKEN_REQUEST_* so cosign asks for a fresh token each time), a key from a file;
neither is ever an argument. Verification pins the certificate to this repository's release
workflow and GitHub's OIDC issuer, so a signature made anywhere else does not pass.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vibevoice_ci.core.jsondata import array, obj

GITHUB_OIDC_ISSUER = "https://token.actions.githubusercontent.com"
RELEASE_WORKFLOW = "images.yml"
# Where releases come from: main and v* tags.
RELEASE_REFS = r"refs/(heads/main|tags/v.+)"
KEY_PATH = "/run/secrets/cosign.key"
PUBLIC_KEY_PATH = "/run/secrets/cosign.pub"
DOCKER_CONFIG_DIR = "/run/secrets/docker"
ANNOTATION_PREFIX = "dev.vibevoice."
# What a release attests to each image, and what verification asks for: cosign's --type names.
SBOM_TYPE, VULN_TYPE, PROVENANCE_TYPE = "cyclonedx", "vuln", "slsaprovenance1"
VERIFIED_PREDICATES = (SBOM_TYPE, VULN_TYPE, PROVENANCE_TYPE)

_DIGEST_REFERENCE = re.compile(
    r"(?P<name>[a-z0-9]+(?:[._-][a-z0-9]+)*(?::\d+)?(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)+)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?@(?P<digest>sha256:[0-9a-f]{64})"
)
_UNSAFE_ANNOTATION = re.compile(r'[,"=]')
# Key-based signing with no Sigstore service at all (a registry behind a firewall): no signing config
# from Sigstore's TUF repository, no upload to the transparency log when signing, and no log entry
# required when verifying. cosign reads each flag from COSIGN_<FLAG>, and each command only its own.
# Found on an offline engine: cosign v3 `sign --key` still fetches the signing config by default.
NO_TLOG_ENV = {
    "COSIGN_USE_SIGNING_CONFIG": "false",
    "COSIGN_TLOG_UPLOAD": "false",
    "COSIGN_INSECURE_IGNORE_TLOG": "true",
}
_GITHUB_REPOSITORY = re.compile(r"[A-Za-z0-9-]+/[A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Predicate:
    """An attestation: cosign's `--type` and the file holding the predicate."""

    type: str
    path: str


def by_digest(reference: str) -> str:
    """`name@sha256:<digest>` from `name[:tag]@sha256:<digest>`; ValueError for a reference without one."""
    match = _DIGEST_REFERENCE.fullmatch(reference.strip())
    if match is None:
        msg = f"not an image reference by digest: {reference!r} (expected name[:tag]@sha256:<64 hex>)"
        raise ValueError(msg)
    return f"{match['name']}@{match['digest']}"


def digest_of(reference: str) -> str:
    """The `sha256:...` digest of a reference by digest."""
    return by_digest(reference).rsplit("@", 1)[1]


def tag_of(reference: str) -> str:
    """The tag of a reference by digest, or "" when it names none."""
    match = _DIGEST_REFERENCE.fullmatch(reference.strip())
    if match is None:
        by_digest(reference)  # raises the error that names the expected shape
    return (match["tag"] or "") if match else ""


def first_by_digest(references: Sequence[str]) -> list[str]:
    """Each image once, as the first of `references` that names it: its tag says which build it is."""
    first: dict[str, str] = {}
    for reference in references:
        first.setdefault(by_digest(reference), reference.strip())
    if not first:
        msg = "no image references given"
        raise ValueError(msg)
    return list(first.values())


def repository_of(reference: str) -> str:
    """The repository name of a reference by digest (no tag, no digest)."""
    return by_digest(reference).rsplit("@", 1)[0]


def unique_by_digest(references: Sequence[str]) -> list[str]:
    """Each image once: the tags of one image share its digest, and one signature covers them all."""
    seen: list[str] = []
    for reference in references:
        pinned = by_digest(reference)
        if pinned not in seen:
            seen.append(pinned)
    if not seen:
        msg = "no image references given"
        raise ValueError(msg)
    return seen


def signature_annotations(
    *, sha: str, run_id: str, run_attempt: str, workflow_ref: str, matrix: Sequence[tuple[str, str, str]]
) -> dict[str, str]:
    """What every signature carries: the commit, the workflow run and ref, and the build matrix.

    `matrix` is every variant built, as (service, target, platform). cosign's `-a KEY=VALUE` reads its
    values as CSV and splits on the first `=`, so lists are joined with `;` and a value holding a
    comma, a quote or an `=` is refused here rather than by cosign in the middle of a release.
    """

    def joined(items: Sequence[str]) -> str:
        return ";".join(dict.fromkeys(items))

    values = {
        "git-sha": sha.strip().lower(),
        "workflow-run-id": run_id.strip(),
        "workflow-run-attempt": run_attempt.strip(),
        "workflow-ref": workflow_ref.strip(),
        "services": joined([service for service, _, _ in matrix]),
        "targets": joined([target for _, target, _ in matrix]),
        "platforms": joined([platform for _, _, platform in matrix]),
        "build-matrix": joined([f"{service}:{target}:{platform}" for service, target, platform in matrix]),
    }
    if not values["git-sha"]:
        msg = "a signature needs git-sha"
        raise ValueError(msg)
    unsafe = [key for key, value in values.items() if _UNSAFE_ANNOTATION.search(value)]
    if unsafe:
        msg = f"cosign cannot carry these annotation values (a comma, a quote or '='): {', '.join(unsafe)}"
        raise ValueError(msg)
    return {ANNOTATION_PREFIX + key: value for key, value in values.items() if value}


def _key_args(keyed: bool) -> list[str]:
    return ["--key", KEY_PATH] if keyed else []


def sign(reference: str, signed_annotations: Mapping[str, str], *, keyed: bool = False) -> list[str]:
    """cosign sign of an image (index and platform manifests) by digest, with annotations."""
    command = ["cosign", "sign", "--yes", "--recursive", *_key_args(keyed)]
    for key, value in sorted(signed_annotations.items()):
        command += ["-a", f"{key}={value}"]
    return [*command, by_digest(reference)]


def attest(reference: str, predicate: Predicate, *, keyed: bool = False) -> list[str]:
    """cosign attest: one predicate, signed and attached to the image by digest."""
    return [
        "cosign",
        "attest",
        "--yes",
        *_key_args(keyed),
        "--type",
        predicate.type,
        "--predicate",
        predicate.path,
        by_digest(reference),
    ]


def identity_regexp(github_repository: str, workflow: str = RELEASE_WORKFLOW) -> str:
    """The certificate identity of this repository's release workflow on main or a v* tag."""
    if not _GITHUB_REPOSITORY.fullmatch(github_repository.strip()):
        msg = f"not a GitHub repository: {github_repository!r} (owner/name, as github.repository gives it)"
        raise ValueError(msg)
    workflow_path = re.escape(f"{github_repository.strip()}/.github/workflows/{workflow}")
    return f"^https://github\\.com/{workflow_path}@{RELEASE_REFS}$"


def _verify_args(github_repository: str, keyed: bool) -> list[str]:
    if keyed:
        return ["--key", PUBLIC_KEY_PATH]
    return [
        "--certificate-identity-regexp",
        identity_regexp(github_repository),
        "--certificate-oidc-issuer",
        GITHUB_OIDC_ISSUER,
        "--certificate-github-workflow-repository",
        github_repository.strip(),
    ]


def verify(
    reference: str,
    github_repository: str,
    signed_annotations: Mapping[str, str] | None = None,
    *,
    keyed: bool = False,
) -> list[str]:
    """cosign verify: a signature by the release workflow (or the key), optionally with annotations."""
    command = ["cosign", "verify", *_verify_args(github_repository, keyed)]
    for key, value in sorted((signed_annotations or {}).items()):
        command += ["-a", f"{key}={value}"]
    return [*command, "--output", "json", by_digest(reference)]


def verify_attestation(
    reference: str, predicate_type: str, github_repository: str, *, keyed: bool = False
) -> list[str]:
    """cosign verify-attestation of one predicate type, by the release workflow (or the key)."""
    return [
        "cosign",
        "verify-attestation",
        *_verify_args(github_repository, keyed),
        "--type",
        predicate_type,
        "--output",
        "json",
        by_digest(reference),
    ]


def docker_config(registry: str, username: str, password: str) -> str:
    """A docker config.json that logs cosign into `registry` (mounted as a secret, never a layer)."""
    if not registry.strip() or not username.strip() or not password:
        msg = "registry, username and password are all needed to log in"
        raise ValueError(msg)
    token = base64.b64encode(f"{username.strip()}:{password}".encode()).decode()
    return json.dumps({"auths": {registry.strip(): {"auth": token}}})


# -- reading what verification printed -------------------------------------------------------------


def summarize_signatures(reference: str, output: str) -> str:
    """What `cosign verify --output json` proved, in a few lines."""
    items = _json_items(output)
    if not items:
        msg = f"cosign verify printed no verified signature for {reference}"
        raise ValueError(msg)
    lines = [f"{by_digest(reference)}: {len(items)} verified signature(s)"]
    for item in items:
        optional = obj(item.get("optional"))
        digest = obj(obj(item.get("critical")).get("image")).get("docker-manifest-digest", "?")
        who = optional.get("Subject") or optional.get("subject") or "key"
        issuer = optional.get("Issuer") or optional.get("issuer") or ""
        sha = optional.get(ANNOTATION_PREFIX + "git-sha", "")
        run = optional.get(ANNOTATION_PREFIX + "workflow-run-id", "")
        details = ", ".join(
            part for part in (f"commit {sha}" if sha else "", f"run {run}" if run else "") if part
        )
        lines.append(f"  signed manifest {digest} by {who} {f'({issuer})' if issuer else ''}".rstrip())
        if details:
            lines.append(f"    {details}")
    return "\n".join(lines)


def summarize_attestations(reference: str, predicate_type: str, output: str) -> str:
    """What `cosign verify-attestation --output json` proved: predicate types and subjects."""
    statements = [_statement(item) for item in _json_items(output)]
    if not statements:
        msg = f"cosign verify-attestation printed no verified {predicate_type} attestation for {reference}"
        raise ValueError(msg)
    lines = [f"{by_digest(reference)}: {len(statements)} verified {predicate_type} attestation(s)"]
    for statement in statements:
        subjects = ", ".join(
            f"{subject.get('name', '?')}@sha256:{obj(subject.get('digest')).get('sha256', '?')}"
            for subject in map(obj, array(statement.get("subject")))
        )
        lines.append(f"  {statement.get('predicateType', '?')} for {subjects}")
    return "\n".join(lines)


def _json_items(output: str) -> list[dict[str, Any]]:
    """cosign prints a JSON array (verify) or one JSON object per line (verify-attestation)."""
    text = output.strip()
    if not text:
        return []
    try:
        document: Any = json.loads(text)
    except json.JSONDecodeError:
        document = [json.loads(line) for line in text.splitlines() if line.strip().startswith("{")]
    items: list[Any] = array(document) or [document]
    return [obj(item) for item in items if obj(item)]


def _statement(envelope: Mapping[str, Any]) -> dict[str, Any]:
    """The in-toto statement inside a DSSE envelope (base64 payload)."""
    payload = envelope.get("payload")
    if not isinstance(payload, str):
        msg = "a verified attestation without a DSSE payload"
        raise ValueError(msg)
    statement = obj(json.loads(base64.b64decode(payload)))
    if not statement:
        msg = "the attestation's payload is not an in-toto statement"
        raise ValueError(msg)
    return statement
