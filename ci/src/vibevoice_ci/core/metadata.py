"""What an image says about itself: OCI annotations and labels, and the Dockerfile build args.

The creation time is the commit time, never the build time: two builds of one commit then carry the
same metadata (and hit the same cache), and "created" tells a reader how old the code is. A value
that is not known (a local build has no commit time or source URL) is left out rather than invented.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from vibevoice_ci.core.tags import IMAGE_PREFIX, release_version, short_sha

ANNOTATION_PREFIX = "org.opencontainers.image."
DEV_VERSION = "dev"


@dataclass(frozen=True)
class BuildInfo:
    """Where an image comes from: version, commit, commit time (RFC 3339, UTC) and source URL."""

    version: str = DEV_VERSION
    revision: str = ""
    created: str = ""
    source: str = ""


def commit_time(text: str) -> str:
    """An ISO 8601 time with a UTC offset (e.g. `git log -1 --format=%cI`) as RFC 3339 in UTC.

    Empty stays empty (unknown). A time without an offset is rejected: it would be read differently
    on every machine.
    """
    if not text.strip():
        return ""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        msg = f"not an ISO 8601 time: {text!r} (use `git log -1 --format=%cI`)"
        raise ValueError(msg) from None
    if moment.tzinfo is None:
        msg = f"time {text!r} has no UTC offset (use `git log -1 --format=%cI`)"
        raise ValueError(msg)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_info(*, version: str, revision: str, created: str, source: str) -> BuildInfo:
    """Validated build information from the values a caller passes on the command line."""
    if not version.strip():
        msg = "version must not be empty"
        raise ValueError(msg)
    return BuildInfo(
        version=version.strip(),
        revision=revision.strip().lower(),
        created=commit_time(created),
        source=source.strip(),
    )


def release_build_info(*, ref: str, sha: str, created: str, source: str) -> BuildInfo:
    """Build information for a published image: the release version, or `sha-<short>` off a tag."""
    short = short_sha(sha)
    version = release_version(ref) or f"sha-{short}"
    return build_info(version=version, revision=sha, created=created, source=source)


def oci_annotations(service: str, info: BuildInfo) -> dict[str, str]:
    """`org.opencontainers.image.*` keys for one service's image; unknown values are left out."""
    values = {
        "title": f"{IMAGE_PREFIX}{service}",
        "version": info.version,
        "revision": info.revision,
        "created": info.created,
        "source": info.source,
    }
    return {ANNOTATION_PREFIX + key: value for key, value in values.items() if value}


def build_args(info: BuildInfo) -> dict[str, str]:
    """The Dockerfiles' metadata build args (VERSION, REVISION, CREATED, SOURCE) that are known."""
    values = {
        "VERSION": info.version,
        "REVISION": info.revision,
        "CREATED": info.created,
        "SOURCE": info.source,
    }
    return {key: value for key, value in values.items() if value}
