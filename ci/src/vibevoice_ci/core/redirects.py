"""Air-gapped mode: every image and download the module needs, redirected to what the user runs.

Three kinds of redirect, given to the module as `--mirror HOST=PREFIX`, `--image NAME=REFERENCE` and
`--download NAME=URL`:

- A registry mirror (`docker.io=registry.corp:5000/hub`): every image from HOST is pulled from
  PREFIX instead, path, tag and digest kept. A mirror that copied the images holds the same bytes
  under the same digests, so the pins in ci/images stay the proof of what runs.
- An image override (`python=registry.corp:5000/python:3.12-slim`): one image replaced whole, for a
  stand-in built in-house, whose digest differs from the pin (so the pin cannot be kept). NAME is a
  tool of ci/images (python, uv, trivy, cosign, helm, k3s, registry) or the Dockerfiles' base
  (`base`, every image's, the CUDA one's too), which reaches the builds as their BASE_IMAGE build argument.

- A download (`torch-index=https://pypi.corp/simple`): a file or package index the Dockerfiles fetch
  besides images (PyTorch's CPU index for the model tests, Microsoft's model code at its pinned
  commit), reaching the builds as a build argument.

An override wins over a mirror; an image neither names is pulled as pinned, a download from upstream.
The module parses the flags once, into one `Redirects`, and hands that value to every concern (with
the repository, as core.toolchain's `Toolchain`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from vibevoice_ci.core.pins import TOOLS, ImagePin

# The Dockerfiles' base images: the name an override uses, the build argument, and the Dockerfiles'
# default (a test checks these defaults against the Dockerfiles' ARG lines).
BASES: Mapping[str, tuple[str, str]] = {
    "base": ("BASE_IMAGE", "python:3.12-slim"),
}
NAMES = (*TOOLS, *BASES)
# What the Dockerfiles download besides images: the name `--download` uses, and the build argument.
DOWNLOADS: Mapping[str, str] = {
    "torch-index": "TORCH_INDEX_URL",
    "vibevoice-source": "VIBEVOICE_SRC_URL",
}
_HOST = re.compile(r"(?:[a-z0-9-]+\.)*[a-z0-9-]+(?::\d+)?")
_PREFIX = re.compile(r"(?:[a-z0-9-]+\.)*[a-z0-9-]+(?::\d+)?(?:/[a-z0-9._-]+)*")
_REFERENCE = re.compile(r"[a-z0-9][a-z0-9._/:-]*(?:@sha256:[0-9a-f]{64})?")
_URL = re.compile(r"https?://[^\s=,;]+")


@dataclass(frozen=True)
class Redirects:
    """Where each image the module pulls comes from; empty: from where it is pinned."""

    registries: Mapping[str, str] = field(default_factory=dict[str, str])
    images: Mapping[str, str] = field(default_factory=dict[str, str])
    downloads: Mapping[str, str] = field(default_factory=dict[str, str])

    @classmethod
    def parse(
        cls, mirrors: Sequence[str] = (), images: Sequence[str] = (), downloads: Sequence[str] = ()
    ) -> Redirects:
        """From `HOST=PREFIX`, `NAME=REFERENCE` and `NAME=URL` pairs; ValueError naming a malformed one."""
        registries = dict(_pairs(mirrors, "--mirror", "HOST=PREFIX, e.g. docker.io=registry.corp:5000/hub"))
        for host, prefix in registries.items():
            if not _HOST.fullmatch(host) or not _PREFIX.fullmatch(prefix):
                msg = f"--mirror {host}={prefix}: expected a registry host and a registry[/path] prefix"
                raise ValueError(msg)
        overrides = _named(
            images, "--image", "NAME=REFERENCE, e.g. python=registry.corp:5000/python:3.12",
            (NAMES, "image"), (_REFERENCE, "an image reference"),
        )  # fmt: skip
        fetched = _named(
            downloads, "--download", "NAME=URL, e.g. torch-index=https://pypi.corp/simple",
            (tuple(DOWNLOADS), "download"), (_URL, "an http(s) URL"),
        )  # fmt: skip
        return cls(registries, overrides, fetched)

    def reference(self, name: str, reference: str) -> str:
        """Where image `name`, pinned as `reference`, is pulled from."""
        if name in self.images:
            return self.images[name]
        host, path = split(reference)
        prefix = self.registries.get(host)
        return f"{prefix}/{path}" if prefix else reference

    def pin(self, pin: ImagePin) -> ImagePin:
        """`pin`, pulled from where the redirects say (its identity, and so the provenance, kept)."""
        moved = self.reference(pin.tool, pin.pinned)
        return dataclasses.replace(pin, pulled_from="" if moved == pin.pinned else moved)

    def build_args(self) -> dict[str, str]:
        """The Dockerfiles' build arguments that the redirects change: bases, then downloads."""
        bases = {
            argument: changed
            for name, (argument, default) in BASES.items()
            if (changed := self.reference(name, default)) != default
        }
        return bases | {DOWNLOADS[name]: url for name, url in self.downloads.items()}


def split(reference: str) -> tuple[str, str]:
    """A reference's registry host and the rest, the way docker resolves a name without a host
    (`python:3.12` -> `docker.io`, `library/python:3.12`)."""
    first, _, rest = reference.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    return "docker.io", reference if rest else f"library/{reference}"


def _named(
    items: Sequence[str],
    flag: str,
    shape: str,
    names: tuple[Sequence[str], str],
    values: tuple[re.Pattern[str], str],
) -> dict[str, str]:
    """`NAME=VALUE` pairs whose names are among `names` and whose values match `values`' pattern."""
    (known, kind), (pattern, expected) = names, values
    pairs = dict(_pairs(items, flag, shape))
    for name, value in pairs.items():
        if name not in known:
            msg = f"{flag} {name}=...: no such {kind}; choose one of: {', '.join(known)}"
            raise ValueError(msg)
        if not pattern.fullmatch(value):
            msg = f"{flag} {name}={value}: not {expected}"
            raise ValueError(msg)
    return pairs


def _pairs(items: Sequence[str], flag: str, shape: str) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for item in items:
        key, equals, value = item.strip().partition("=")
        if not equals or not key.strip() or not value.strip():
            msg = f"{flag} {item!r}: expected {shape}"
            raise ValueError(msg)
        pairs.append((key.strip().lower(), value.strip()))
    return pairs
