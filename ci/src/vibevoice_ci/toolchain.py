"""The images, caches and source filter the pipeline's own containers use.

The product images come from the repository's Dockerfiles; this is only what the pipeline adds
around them (a Python to lint in, the pip cache it keeps between runs).
"""

from __future__ import annotations

# The Python the pipeline's own steps run in is pinned by digest in ci/images/python/Dockerfile
# (vibevoice_ci.images), the same Python line as the product's images.
PIP_CACHE_PATH = "/root/.cache/pip"
# Two pip caches: the volume the module's own containers mount, and the one the Dockerfiles' installs
# mount (`--mount=type=cache,id=vibevoice-pip`). The engine turns a Dockerfile's cache mount into a
# cache volume call of its own (key "/" + id, sharing and owner spelled out: util/llbtodagger in
# Dagger's source), which the SDK's cache_volume does not promise to reach; so the round trip
# (caches.py) reaches the builds' cache the way the builds do, through a Dockerfile with that mount.
PIP_CACHE_VOLUME = "vibevoice-pip"
PIP_CACHE_ID = "vibevoice-pip"
WORKDIR = "/src"

# What never enters the pipeline from the repository: VCS data, local environments, caches and
# build output. Keeping them out keeps cache keys stable across machines and commits.
SOURCE_IGNORE = (
    ".git",
    ".venv",
    ".tools",
    ".cache",
    ".images",
    "**/__pycache__",
    "**/*.egg-info",
    "**/.pytest_cache",
    "**/.ruff_cache",
    "build",
    "dist",
    "out",
    "bench-out",
    "ci/sdk",
    "ci/.venv",
)
