"""Image names and tags derived from a git ref and commit.

Every published image gets `sha-<short>`. A release tag `vX.Y.Z` also gets `X.Y.Z`, `X.Y` and `X`;
a pre-release (`v1.2.0-rc.1`) or a version with build metadata gets only its full version, so a
release candidate never moves `1.2` or `1`. Registry paths are lowercased, as registries require.
"""

from __future__ import annotations

import re

SHORT_SHA_LENGTH = 7
TAG_PREFIX = "refs/tags/"
IMAGE_PREFIX = "vibevoice-"

_HEX = re.compile(r"[0-9a-f]{7,64}")
# Semantic Versioning 2.0.0 (semver.org), after the leading "v".
_SEMVER = re.compile(
    r"(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+(?P<build>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
)
# What a registry accepts as a tag (the OCI distribution spec).
_DOCKER_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_REPOSITORY = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*")
_REGISTRY = re.compile(r"[a-z0-9]+(?:[.-][a-z0-9]+)*(?::\d+)?")


def short_sha(sha: str) -> str:
    """The first seven hex digits of a commit id (full or abbreviated, any case)."""
    normalized = sha.strip().lower()
    if not _HEX.fullmatch(normalized):
        msg = f"not a git commit id: {sha!r} (expected 7 to 64 hex digits)"
        raise ValueError(msg)
    return normalized[:SHORT_SHA_LENGTH]


def _release(ref: str) -> re.Match[str] | None:
    """The parsed version of a `refs/tags/v*` ref, or None for any other ref."""
    if not ref.startswith(TAG_PREFIX + "v"):
        return None
    parsed = _SEMVER.fullmatch(ref.removeprefix(TAG_PREFIX + "v"))
    if parsed is None:
        msg = f"release tag {ref!r} is not v<semantic version>, e.g. v1.2.3 or v1.2.3-rc.1"
        raise ValueError(msg)
    return parsed


def release_version(ref: str) -> str | None:
    """The version a `refs/tags/v*` ref releases (without the "v"), or None for any other ref.

    A `v*` tag that is not a semantic version is an error rather than a silent non-release.
    """
    parsed = _release(ref)
    return None if parsed is None else parsed[0]


def image_tags(ref: str, sha: str) -> list[str]:
    """The tags an image built from `sha` (at `ref`) is published under, most specific first."""
    tags = [f"sha-{short_sha(sha)}"]
    parsed = _release(ref)
    if parsed is not None:
        version = parsed[0]
        if parsed["pre"] or parsed["build"]:
            # "+" is not allowed in a tag; "_" is, and does not collide with a pre-release "-".
            tags.append(version.replace("+", "_"))
        else:
            major, minor = parsed["major"], parsed["minor"]
            tags += [version, f"{major}.{minor}", major]
    for tag in tags:
        if not _DOCKER_TAG.fullmatch(tag):
            msg = f"{tag!r} is not a valid image tag"
            raise ValueError(msg)
    return tags


def image_repository(registry: str, repository: str, service: str) -> str:
    """`<registry>/<repository>/vibevoice-<service>`, lowercased and validated."""
    host = registry.strip().rstrip("/").lower()
    path = repository.strip().strip("/").lower()
    if not _REGISTRY.fullmatch(host):
        msg = f"not a registry host: {registry!r} (e.g. ghcr.io or localhost:5000)"
        raise ValueError(msg)
    if not _REPOSITORY.fullmatch(path):
        msg = f"not a repository path: {repository!r} (e.g. owner/project)"
        raise ValueError(msg)
    return f"{host}/{path}/{IMAGE_PREFIX}{service}"


def image_references(
    registry: str, repository: str, service: str, ref: str, sha: str, *, suffix: str = ""
) -> list[str]:
    """Every `<repository>:<tag><suffix>` reference one service's image is published under (a suffix
    such as `-cuda` keeps a variant's tags apart from the shipped image's in the same repository)."""
    name = image_repository(registry, repository, service)
    tagged = [f"{tag}{suffix}" for tag in image_tags(ref, sha)]
    for tag in tagged:
        if not _DOCKER_TAG.fullmatch(tag):
            msg = f"{tag!r} is not a valid image tag"
            raise ValueError(msg)
    return [f"{name}:{tag}" for tag in tagged]
