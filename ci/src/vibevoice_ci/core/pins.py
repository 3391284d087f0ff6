"""The third-party images the pipeline runs its tools in, pinned by digest in one place.

Each tool has a one-line Dockerfile, `ci/images/<tool>/Dockerfile`, whose `FROM` names the image by
tag and digest. The module reads that line at run time (so the files are the configuration, not a
copy of it), and Dependabot's docker ecosystem opens pull requests that move tag and digest together.
A pin that is not `name:tag@sha256:<64 hex>` is rejected: a tag alone can change under us.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

IMAGES_DIR = "ci/images"
# Every tool image the module reads; a test checks each has a well-formed pin.
TOOLS = ("cosign", "helm", "k3s", "python", "registry", "trivy", "uv")
# Where a tool image keeps its binary, for the containers that copy it (the dev environment, the
# cluster test's client, the audit's container).
BINARIES: Mapping[str, str] = {
    "cosign": "/ko-app/cosign",
    "helm": "/usr/bin/helm",
    "registry": "/bin/registry",
    "uv": "/uv",
}

_FROM = re.compile(
    r"FROM\s+(?P<repository>[a-z0-9][a-z0-9._/:-]*?):(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})"
    r"@(?P<digest>sha256:[0-9a-f]{64})(?:\s+AS\s+\S+)?",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ImagePin:
    """One tool image: repository, tag and the digest that makes the tag immutable."""

    tool: str
    repository: str
    tag: str
    digest: str
    pulled_from: str = ""  # air-gapped mode: the mirror's copy, or a stand-in (redirects.py)

    @property
    def pinned(self) -> str:
        """`repository:tag@sha256:...`: the image the pin names (the digest wins over the tag)."""
        return f"{self.repository}:{self.tag}@{self.digest}"

    @property
    def reference(self) -> str:
        """What the pipeline pulls: the pinned image, or where air-gapped mode redirects it."""
        return self.pulled_from or self.pinned

    @property
    def registry(self) -> str:
        """The registry host (docker.io when the repository names none)."""
        first = self.repository.split("/", 1)[0]
        has_host = "/" in self.repository and ("." in first or ":" in first or first == "localhost")
        return first if has_host else "docker.io"


def pin_path(tool: str) -> str:
    """The Dockerfile holding `tool`'s pin, relative to the repository root."""
    if tool not in TOOLS:
        msg = f"unknown tool image {tool!r}; choose one of: {', '.join(TOOLS)}"
        raise ValueError(msg)
    return f"{IMAGES_DIR}/{tool}/Dockerfile"


def parse_pin(tool: str, dockerfile: str) -> ImagePin:
    """The pin in a tool Dockerfile: exactly one `FROM name:tag@sha256:<digest>` line."""
    lines = [line.strip() for line in dockerfile.splitlines()]
    from_lines = [line for line in lines if line.upper().startswith("FROM")]
    if len(from_lines) != 1:
        msg = f"{pin_path(tool)} must have exactly one FROM line, found {len(from_lines)}"
        raise ValueError(msg)
    match = _FROM.fullmatch(from_lines[0])
    if match is None:
        msg = f"{pin_path(tool)}: {from_lines[0]!r} is not pinned as FROM name:tag@sha256:<64 hex digits>"
        raise ValueError(msg)
    return ImagePin(tool, match["repository"].lower(), match["tag"], match["digest"])
