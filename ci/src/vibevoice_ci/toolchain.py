"""The images, caches and source filter the pipeline's own containers use.

The product images come from the repository's Dockerfiles; this is only what the pipeline adds
around them (a Python to lint in, the pip cache it keeps between runs).
"""

from __future__ import annotations

# The Python the pipeline's own steps run in is pinned by digest in ci/images/python/Dockerfile
# (vibevoice_ci.images), the same Python line as the product's images.
PIP_CACHE_VOLUME = "vibevoice-pip"
PIP_CACHE_PATH = "/root/.cache/pip"
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
