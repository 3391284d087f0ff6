"""`release`: the identity given once, and what its steps refuse before anything runs.

The steps themselves await the engine (build, scan, push, cosign); here, without one, the release's
fields, the annotations every signature carries, and the checks that stop a release before any
build or push (see dagger_query.py for why no more can be read offline).
"""

# The tests read the annotations the steps sign with.
# pyright: reportPrivateUsage=false

from __future__ import annotations

from functools import partial

import anyio
import pytest
from dagger import dag
from vibevoice_ci import cosign
from vibevoice_ci.main import Vibevoice
from vibevoice_ci.release import MissingCredentials, Release

SOURCE = dag.directory().with_new_file("marker", "the repository")
SHA = "0123456789abcdef0123456789abcdef01234567"
HEAD = dag.git("https://github.com/owner/project").head()


def release(**identity: object) -> Release:
    defaults: dict[str, object] = {
        "github_repository": "Owner/Project",
        "username": "robot",
        "password": dag.set_secret("registry-password", "x"),
        "ref": "refs/heads/main",
        "sha": SHA,
        "run_id": "42",
        "run_attempt": "1",
        "workflow_ref": "Owner/Project/.github/workflows/images.yml@refs/heads/main",
        "oidc_request_token": dag.set_secret("request-token", "t"),
        "oidc_request_url": dag.set_secret("request-url", "u"),
    }
    return Vibevoice(source=SOURCE).release(**(defaults | identity))  # type: ignore[arg-type]


def test_the_identity_is_kept_once_and_the_platforms_validated() -> None:
    made = release(platforms=["linux/arm64", " Linux/AMD64 ", "linux/arm64"])
    assert (made.registry, made.github_repository, made.sha) == ("ghcr.io", "Owner/Project", SHA)
    assert made.platforms == ["linux/arm64", "linux/amd64"]
    with pytest.raises(ValueError, match="not a platform"):
        release(platforms=["arm64"])


def test_every_signature_carries_the_commit_the_run_and_the_build_matrix() -> None:
    annotations = release()._annotations()
    prefix = cosign.ANNOTATION_PREFIX
    assert annotations[prefix + "git-sha"] == SHA
    assert annotations[prefix + "workflow-run-id"] == "42"
    assert annotations[prefix + "platforms"] == "linux/amd64;linux/arm64"
    assert annotations[prefix + "services"] == "tts;agent"
    assert annotations[prefix + "build-matrix"] == (
        "tts:cpu:linux/amd64;tts:cpu:linux/arm64;agent:agent:linux/amd64;agent:agent:linux/arm64"
    )


@pytest.mark.parametrize(
    ("identity", "cuda"),
    [
        ({}, False),  # a push to main: the shipped images
        ({"cuda": True}, True),  # asked for
        ({"ref": "refs/tags/v1.2.3"}, True),  # every release has it
        ({"ref": "refs/tags/v1.3.0-rc.1"}, True),
    ],
)
def test_a_release_tag_or_the_flag_adds_the_cuda_image_for_amd64_only(
    identity: dict[str, object], cuda: bool
) -> None:
    made = release(**identity)
    keys = [image.key for image in made._images()]
    assert keys == (["tts", "agent", "tts-cuda"] if cuda else ["tts", "agent"])
    matrix = [(e.service, e.target, e.platform) for e in made._matrix()]
    assert (("tts", "cuda", "linux/amd64") in matrix) is cuda
    assert ("tts", "cuda", "linux/arm64") not in matrix
    assert ("cuda" in made._annotations()[cosign.ANNOTATION_PREFIX + "targets"]) is cuda


@pytest.mark.parametrize(
    ("identity", "message"),
    [
        ({"oidc_request_url": None}, "needs both"),
        ({"id_token": dag.set_secret("id-token", "t")}, "exactly one of"),
        ({"password": None}, "needs the registry password"),
        ({"ref": "refs/tags/v1.2"}, "not v<semantic version>"),
        ({"sha": "HEAD"}, "not a git commit id"),
    ],
)
def test_a_release_is_refused_before_anything_is_built_or_pushed(
    identity: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        anyio.run(partial(release(**identity).run, repository="owner/project", git=HEAD))


def test_a_missing_password_says_how_to_give_it() -> None:
    with pytest.raises(MissingCredentials, match="--password env://NAME"):
        anyio.run(partial(release(password=None).sign, ["ghcr.io/owner/project-tts@sha256:" + "a" * 64]))
