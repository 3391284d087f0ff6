"""OCI annotations, labels and build args (vibevoice_ci.metadata)."""

from __future__ import annotations

import pytest
from vibevoice_ci.core.metadata import (
    BuildInfo,
    build_args,
    build_info,
    commit_time,
    oci_annotations,
    release_build_info,
)

SHA = "89abcdef0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("2024-05-01T12:00:00+02:00", "2024-05-01T10:00:00Z"),
        ("2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z"),
        ("2023-12-31T23:30:00-01:00", "2024-01-01T00:30:00Z"),
        ("", ""),
        ("   ", ""),
    ],
)
def test_commit_time_is_rfc3339_utc(given: str, expected: str) -> None:
    assert commit_time(given) == expected


def test_commit_time_without_offset_is_rejected() -> None:
    with pytest.raises(ValueError, match="no UTC offset"):
        commit_time("2024-05-01T12:00:00")


def test_commit_time_that_is_not_a_time_is_rejected() -> None:
    with pytest.raises(ValueError, match="not an ISO 8601 time"):
        commit_time("yesterday")


def test_release_info_takes_the_version_from_the_tag() -> None:
    info = release_build_info(
        ref="refs/tags/v1.4.0",
        sha=SHA.upper(),
        created="2024-05-01T12:00:00+02:00",
        source="https://github.com/owner/project",
    )
    assert info == BuildInfo(
        version="1.4.0",
        revision=SHA,
        created="2024-05-01T10:00:00Z",
        source="https://github.com/owner/project",
    )


def test_release_info_off_a_tag_is_versioned_by_commit() -> None:
    info = release_build_info(ref="refs/heads/main", sha=SHA, created="", source="")
    assert info.version == "sha-89abcde"
    assert info.revision == SHA


def test_release_info_rejects_a_bad_sha() -> None:
    with pytest.raises(ValueError, match="not a git commit id"):
        release_build_info(ref="refs/heads/main", sha="HEAD", created="", source="")


def test_empty_version_is_rejected() -> None:
    with pytest.raises(ValueError, match="version must not be empty"):
        build_info(version=" ", revision="", created="", source="")


def test_annotations_carry_every_known_value() -> None:
    info = BuildInfo(version="1.4.0", revision=SHA, created="2024-05-01T10:00:00Z", source="https://x.test/p")
    assert oci_annotations("tts", info) == {
        "org.opencontainers.image.title": "vibevoice-tts",
        "org.opencontainers.image.version": "1.4.0",
        "org.opencontainers.image.revision": SHA,
        "org.opencontainers.image.created": "2024-05-01T10:00:00Z",
        "org.opencontainers.image.source": "https://x.test/p",
    }


def test_unknown_values_are_left_out_not_invented() -> None:
    assert oci_annotations("agent", BuildInfo()) == {
        "org.opencontainers.image.title": "vibevoice-agent",
        "org.opencontainers.image.version": "dev",
    }
    assert build_args(BuildInfo()) == {"VERSION": "dev"}


def test_build_args_match_the_dockerfiles_names() -> None:
    info = BuildInfo(version="1.4.0", revision=SHA, created="2024-05-01T10:00:00Z", source="https://x.test/p")
    assert build_args(info) == {
        "VERSION": "1.4.0",
        "REVISION": SHA,
        "CREATED": "2024-05-01T10:00:00Z",
        "SOURCE": "https://x.test/p",
    }
