"""Image tags and names from a ref and a commit (vibevoice_ci.tags)."""

from __future__ import annotations

import pytest
from vibevoice_ci.core.tags import image_references, image_repository, image_tags, release_version, short_sha

SHA = "0123456789abcdef0123456789abcdef01234567"


def test_short_sha_is_seven_lowercase_hex_digits() -> None:
    assert short_sha(SHA) == "0123456"
    assert short_sha(" ABCDEF1234 ") == "abcdef1"


@pytest.mark.parametrize("bad", ["", "012345", "not-a-sha", "0123456789abcdefg", "g" * 40])
def test_short_sha_rejects_what_is_not_a_commit_id(bad: str) -> None:
    with pytest.raises(ValueError, match="not a git commit id"):
        short_sha(bad)


@pytest.mark.parametrize(
    ("ref", "version"),
    [
        ("refs/tags/v1.2.3", "1.2.3"),
        ("refs/tags/v0.1.0-rc.1", "0.1.0-rc.1"),
        ("refs/tags/v2.0.0+build.7", "2.0.0+build.7"),
        ("refs/heads/main", None),
        ("refs/heads/v1.2.3", None),
        ("refs/tags/release-1", None),
        ("refs/pull/7/merge", None),
    ],
)
def test_release_version_only_for_v_tags(ref: str, version: str | None) -> None:
    assert release_version(ref) == version


@pytest.mark.parametrize(
    "ref", ["refs/tags/v1.2", "refs/tags/vnext", "refs/tags/v01.2.3", "refs/tags/v1.2.3-"]
)
def test_a_v_tag_that_is_not_semver_is_an_error(ref: str) -> None:
    with pytest.raises(ValueError, match="not v<semantic version>"):
        release_version(ref)


def test_a_branch_build_gets_only_the_sha_tag() -> None:
    assert image_tags("refs/heads/main", SHA) == ["sha-0123456"]


def test_a_release_gets_the_sha_and_every_version_level() -> None:
    assert image_tags("refs/tags/v1.2.3", SHA) == ["sha-0123456", "1.2.3", "1.2", "1"]


def test_a_pre_release_gets_only_its_full_version() -> None:
    assert image_tags("refs/tags/v1.3.0-rc.2", SHA) == ["sha-0123456", "1.3.0-rc.2"]


def test_build_metadata_is_kept_in_a_valid_tag() -> None:
    assert image_tags("refs/tags/v1.3.0+linux.5", SHA) == ["sha-0123456", "1.3.0_linux.5"]


def test_repository_is_lowercased() -> None:
    assert image_repository("GHCR.io", "Owner/My-Project", "tts") == "ghcr.io/owner/my-project/vibevoice-tts"
    assert (
        image_repository("localhost:5000", "/team/app/", "agent") == "localhost:5000/team/app/vibevoice-agent"
    )


@pytest.mark.parametrize(
    ("registry", "repository", "message"),
    [
        ("ghcr.io", "owner//project", "not a repository path"),
        ("ghcr.io", "owner/pro ject", "not a repository path"),
        ("ghcr.io", "", "not a repository path"),
        ("https://ghcr.io", "owner/project", "not a registry host"),
        ("", "owner/project", "not a registry host"),
    ],
)
def test_bad_registry_or_repository_is_rejected(registry: str, repository: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        image_repository(registry, repository, "tts")


def test_references_combine_repository_and_tags() -> None:
    assert image_references("ghcr.io", "Owner/Project", "tts", "refs/tags/v2.0.1", SHA, suffix="-cuda") == [
        f"ghcr.io/owner/project/vibevoice-tts:{tag}-cuda" for tag in ("sha-0123456", "2.0.1", "2.0", "2")
    ]
    assert image_references("ghcr.io", "Owner/Project", "agent", "refs/tags/v2.0.1", SHA) == [
        "ghcr.io/owner/project/vibevoice-agent:sha-0123456",
        "ghcr.io/owner/project/vibevoice-agent:2.0.1",
        "ghcr.io/owner/project/vibevoice-agent:2.0",
        "ghcr.io/owner/project/vibevoice-agent:2",
    ]
