"""helm.yml: when the chart is checked in GitHub Actions, and which Dagger functions it calls.

The generic rules (actionlint, zizmor, the workflow schema, pinned actions, the Dagger version, a
read-only token, timeouts, concurrency) are test_workflows.py's, which covers every workflow.
"""

from __future__ import annotations

import inspect
from typing import Any

from test_workflows import DAGGER_ACTION, WORKFLOWS, load, steps
from vibevoice_ci.main import Vibevoice

WORKFLOW = WORKFLOWS / "helm.yml"


def triggers() -> dict[str, Any]:
    """The `on:` mapping (PyYAML reads the bare key `on` as True)."""
    workflow: dict[Any, Any] = load(WORKFLOW)
    on: dict[str, Any] = workflow["on"] if "on" in workflow else workflow[True]
    return on


def dagger_calls(job: dict[str, Any]) -> list[str]:
    return [
        step["with"]["call"]
        for step in job["steps"]
        if str(step.get("uses", "")).startswith(DAGGER_ACTION + "@")
    ]


def test_the_chart_is_checked_on_pushes_and_pull_requests_that_touch_it() -> None:
    on = triggers()
    assert on["push"]["paths"] == on["pull_request"]["paths"]
    assert {"infra/k8s/**", "Dockerfile.*", "ci/**", ".github/workflows/helm.yml"} <= set(on["push"]["paths"])
    assert "branches" not in on["push"]  # every branch
    assert "workflow_dispatch" in on


def test_lint_calls_the_helm_lint_check() -> None:
    job = load(WORKFLOW)["jobs"]["lint"]
    assert dagger_calls(job) == ["chart lint", "chart tests"]
    assert "if" not in job


def test_the_cluster_test_runs_on_main_and_on_demand_after_the_lint() -> None:
    job = load(WORKFLOW)["jobs"]["cluster-test"]
    assert dagger_calls(job) == ["chart cluster-test"]
    assert job["needs"] == "lint"
    assert job["if"] == (
        "github.event_name == 'workflow_dispatch' || "
        "(github.event_name == 'push' && github.ref == 'refs/heads/main')"
    )


def test_the_called_functions_exist_in_the_module() -> None:
    for call in (step["with"]["call"] for step in steps(load(WORKFLOW)) if "call" in step.get("with", {})):
        concern, function = call.replace("-", "_").split()
        reached = inspect.signature(getattr(Vibevoice, concern)).return_annotation  # the concern's object
        assert callable(getattr(reached, function, None)), call
