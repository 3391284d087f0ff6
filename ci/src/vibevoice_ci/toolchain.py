"""The images, caches and source filter the pipeline's own containers use.

The product images come from the repository's Dockerfiles; this is only what the pipeline adds
around them (a Python to lint in, the pip cache it keeps between runs).
"""

from __future__ import annotations

# The Python the pipeline's own steps run in is pinned by digest in ci/images/python/Dockerfile
# (vibevoice_ci.images), the same Python line as the product's images.
PIP_CACHE_PATH = "/root/.cache/pip"
# The Dockerfiles' pip installs mount the same volume (`--mount=type=cache,id=vibevoice-pip`): Dagger
# runs a Dockerfile cache mount as the cache volume keyed by BuildKit's cache id, which the Dockerfile
# frontend makes "/" + id. So the seed and snapshot (caches.py) cover the image builds' installs,
# where most packages are downloaded (found reading the engine: with no id the key was the target).
PIP_CACHE_ID = "vibevoice-pip"
PIP_CACHE_VOLUME = f"/{PIP_CACHE_ID}"
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
