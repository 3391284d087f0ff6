"""The supply-chain side of the workflows: the release job, the security workflow and Dependabot.

The generic rules (actionlint, zizmor, the workflow schema, pinned actions, read-only tokens) are
checked for every workflow in test_workflows.py; these are the rules of the release and the scans.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_workflows import WORKFLOWS, job_permissions, load, steps, tool_run
from vibevoice_ci.core import pins
from vibevoice_ci.release import cosign

from tests.support.tools import ROOT, require_tool

DEPENDABOT = ROOT / ".github" / "dependabot.yml"
RELEASE = WORKFLOWS / cosign.RELEASE_WORKFLOW
SECURITY = WORKFLOWS / "security.yml"


def triggers(path: Path) -> dict[str, Any]:
    """A workflow's `on:` (PyYAML reads the bare key `on` as the boolean true, YAML 1.1)."""
    document: dict[Any, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return document["on"] if "on" in document else document[True]


def release_step() -> dict[str, Any]:
    return next(step for step in steps(load(RELEASE)) if "call release" in step.get("run", ""))


def test_the_release_workflow_is_the_identity_verification_expects() -> None:
    # cosign verify pins the certificate to .github/workflows/images.yml on main or a v* tag
    assert triggers(RELEASE)["push"] == {"branches": ["main"], "tags": ["v*"]}
    assert re.match(
        cosign.identity_regexp("Owner/Project"),
        "https://github.com/Owner/Project/.github/workflows/images.yml@refs/heads/main",
    )


def test_only_the_release_job_may_mint_oidc_tokens() -> None:
    minting = {
        f"{path.name}:{name}"
        for path in sorted(WORKFLOWS.glob("*.yml"))
        for name, job in load(path)["jobs"].items()
        if job_permissions(job).get("id-token") == "write"
    }
    assert minting == {"images.yml:release"}


def test_the_release_signs_keyless_with_fresh_tokens_passed_as_secrets() -> None:
    run = release_step()["run"]
    assert "--oidc-request-token env://ACTIONS_ID_TOKEN_REQUEST_TOKEN" in run
    assert "--oidc-request-url env://ACTIONS_ID_TOKEN_REQUEST_URL" in run
    for binding in ("--run-id \"$GITHUB_RUN_ID\"", "--run-attempt \"$GITHUB_RUN_ATTEMPT\"",
                    "--workflow-ref \"$GITHUB_WORKFLOW_REF\"", "--sha \"$GITHUB_SHA\""):  # fmt: skip
        assert binding in run
    assert "${{" not in run  # values reach the script through env, never by template expansion
    assert "git log" not in run  # the module reads the commit time itself
    assert "--created" not in run


def test_the_release_evidence_is_kept() -> None:
    run = release_step()["run"]
    assert ' run --repository "$REPOSITORY"' in run.replace("\\\n", " ")
    assert run.rstrip().endswith("export --path release-evidence")
    upload = next(
        step
        for step in steps(load(RELEASE))
        if str(step.get("uses", "")).startswith("actions/upload-artifact@")
    )
    assert upload["with"]["path"] == "release-evidence"


def test_security_runs_on_dependency_changes_weekly_and_on_demand() -> None:
    workflow, trigger = load(SECURITY), triggers(SECURITY)
    for event in ("push", "pull_request"):
        assert {"pyproject.toml", "Dockerfile.tts", "Dockerfile.agent", "ci/images/**", "security/**"} <= set(
            trigger[event]["paths"]
        )
    (schedule,) = trigger["schedule"]
    assert len(schedule["cron"].split()) == 5
    assert "workflow_dispatch" in trigger
    assert all(job_permissions(job) == {} for job in workflow["jobs"].values())  # read-only, from the top


def test_security_uploads_the_reports_even_when_a_gate_fails_then_gates() -> None:
    runs = [step.get("run", "") for step in steps(load(SECURITY))]
    upload = next(
        step
        for step in steps(load(SECURITY))
        if str(step.get("uses", "")).startswith("actions/upload-artifact@")
    )
    assert "call supply-chain security-report export --path security-reports" in runs[2]
    assert upload["if"] == "${{ !cancelled() }}"
    assert upload["with"]["path"] == "security-reports"
    assert runs[-1].endswith("check 'supply-chain:*'")


# -- Dependabot ------------------------------------------------------------------------------------------


def dependabot() -> dict[str, Any]:
    return load(DEPENDABOT)


def test_dependabot_schema() -> None:
    check_jsonschema = require_tool("check-jsonschema", "pip install check-jsonschema (dev extra)")
    result = tool_run([check_jsonschema, "--builtin-schema", "vendor.dependabot", str(DEPENDABOT)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_dependabot_updates_the_services_the_images_the_tool_pins_and_the_actions_weekly_in_groups() -> None:
    updates = {update["package-ecosystem"]: update for update in dependabot()["updates"]}
    assert set(updates) == {"pip", "docker", "github-actions"}
    for update in updates.values():
        assert update["schedule"]["interval"] == "weekly"
        assert update["groups"], f"{update['package-ecosystem']} updates are not grouped"
    assert updates["pip"]["directory"] == "/"  # the root pyproject.toml: the services
    assert set(updates["docker"]["directories"]) == {"/", f"/{pins.IMAGES_DIR}/*"}


def test_dependabot_leaves_the_generated_sdk_alone() -> None:
    directories = [
        directory
        for update in dependabot()["updates"]
        for directory in [update.get("directory", ""), *update.get("directories", [])]
    ]
    assert not any(
        directory.startswith("/ci") and not directory.startswith(f"/{pins.IMAGES_DIR}")
        for directory in directories
    )


@pytest.mark.parametrize("tool", pins.TOOLS)
def test_every_tool_pin_is_in_a_folder_dependabot_watches(tool: str) -> None:
    pattern = next(d for d in dependabot()["updates"][1]["directories"] if d.startswith("/ci"))
    folder = "/" + str(Path(pins.pin_path(tool)).parent)
    assert re.fullmatch(pattern.replace("*", "[^/]+"), folder)
