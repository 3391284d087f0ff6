"""The module as the engine sees it: dagger.json, the SDK pin, and registration without an engine."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.support.tools import ROOT

CI = ROOT / "ci"
PROBE = Path(__file__).with_name("registration_probe.py")


def dagger_json() -> dict[str, Any]:
    return json.loads((ROOT / "dagger.json").read_text(encoding="utf-8"))


def engine_version() -> str:
    """dagger.json's engineVersion without the leading "v" (e.g. 0.21.11)."""
    return str(dagger_json()["engineVersion"]).removeprefix("v")


def main_object_name() -> str:
    """The main object's class name: the PascalCase of the module name, as the runtime derives it."""
    return "".join(part.capitalize() for part in str(dagger_json()["name"]).replace("_", "-").split("-"))


def test_dagger_json_declares_a_python_module_in_ci() -> None:
    config = dagger_json()
    assert config["name"] == "vibevoice"
    assert config["sdk"] == {"source": "python"}
    assert config["source"] == "ci"
    assert str(config["engineVersion"]).startswith("v0.21.")


def test_the_sdk_the_types_are_checked_against_is_the_engine_version() -> None:
    # pyright checks ci/ against the installed dagger-io; it must be the engine's own version.
    assert importlib.metadata.version("dagger-io") == engine_version()
    dev = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "optional-dependencies"
    ]
    assert f"dagger-io=={engine_version()}" in dev["dev"]


def test_the_module_package_declares_its_main_object() -> None:
    project = tomllib.loads((CI / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    # Not "dagger": the package would shadow the SDK.
    assert project["name"] != "dagger"
    assert project["entry-points"]["dagger.mod"] == {"main_object": f"vibevoice_ci.main:{main_object_name()}"}
    installed = importlib.metadata.entry_points(group="dagger.mod", name="main_object")
    assert [entry.value for entry in installed] == [f"vibevoice_ci.main:{main_object_name()}"]


@pytest.fixture(scope="module")
def registered() -> dict[str, Any]:
    """What the SDK registers for the module (see registration_probe.py)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("DAGGER_")}
    env |= {"DAGGER_MAIN_OBJECT": main_object_name(), "DAGGER_MODULE": str(dagger_json()["name"])}
    result = subprocess.run(
        [sys.executable, str(PROBE)], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_registration_builds_every_type_definition_and_stops_only_at_the_engine(
    registered: dict[str, Any],
) -> None:
    assert "No active engine session" in registered["reached_engine"]


def test_the_module_api_is_exactly_these_functions(registered: dict[str, Any]) -> None:
    # The table of contents: the verbs users type, and one function per concern returning its object.
    assert set(registered["functions"]) == {
        "",  # the constructor
        "lint_env", "lint", "test_env", "test", "test_report",
        "build", "images", "smoke", "publish", "release", "bench", "ci",
        "services", "supply_chain", "chart", "benchmark", "suite", "image_checks", "pip_cache", "gpu",
    }  # fmt: skip
    assert {name: set(functions) - {""} for name, functions in registered["objects"].items()} == {
        "Services": {"tts", "agent"},
        "SupplyChain": {"audit", "audit_report", "scan", "sbom", "security_report", "scan_images"},
        "Release": {"run", "sign", "attest", "verify"},
        "Chart": {"lint", "tests", "template", "cluster_test"},
        "Benchmark": {"gate", "report", "summary"},
        "Suite": {
            "env",
            "typecheck",
            "pipeline_tests",
            "repository_tests",
            "model_tests",
            "cuda_model_tests",
        },
        "ImageChecks": {"non_root", "read_only_root", "healthy", "no_build_leftovers"},
        "PipCache": {"seed", "snapshot"},
        "Gpu": {"smoke", "bench"},
    }


def test_every_concern_is_reached_without_required_arguments(registered: dict[str, Any]) -> None:
    # `dagger check 'supply-chain:*'` finds a concern's checks only through such a function.
    concerns = ["services", "supply_chain", "chart", "benchmark", "suite", "image_checks", "pip_cache", "gpu"]
    for name in concerns:
        required = [
            arg for arg, spec in registered["functions"][name]["args"].items() if not spec["optional"]
        ]
        assert required == [], f"{name} requires {required}"


def every_function(registered: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every function of the module, as `object:function` (the main object's without a prefix)."""
    functions = {name: spec for name, spec in registered["functions"].items() if name}
    for object_name, members in registered["objects"].items():
        functions |= {f"{object_name}:{name}": spec for name, spec in members.items() if name}
    return functions


def test_the_checks_need_no_arguments(registered: dict[str, Any]) -> None:
    checks = {name: spec for name, spec in every_function(registered).items() if spec["check"]}
    assert set(checks) == {
        "lint", "test", "smoke",
        "SupplyChain:audit", "SupplyChain:scan_images",
        "Chart:lint", "Chart:tests",
        "Suite:typecheck", "Suite:pipeline_tests", "Suite:repository_tests", "Suite:model_tests",
        "ImageChecks:non_root", "ImageChecks:read_only_root", "ImageChecks:healthy",
        "ImageChecks:no_build_leftovers",
    }  # fmt: skip
    for name, spec in checks.items():
        required = [arg for arg, details in spec["args"].items() if not details["optional"]]
        assert required == [], f"check {name} requires {required}"


def test_side_effects_and_security_results_are_never_served_from_the_function_cache(
    registered: dict[str, Any],
) -> None:
    cached = {name: spec["cache"] for name, spec in every_function(registered).items() if spec["cache"]}
    # publishing, signing, attesting and verifying act on (or read) a registry's current state; the
    # cluster test starts a fresh cluster each time; a benchmark measures now, a report posts; the GPU
    # smoke checks the GPU machine as it is now; a cache snapshot is of now. And security results are
    # never replayed: a new advisory must fail the next audit or scan (their execs carry a cache buster).
    assert cached == dict.fromkeys(
        [
            "publish", "bench",
            "Release:run", "Release:sign", "Release:attest", "Release:verify",
            "Chart:cluster_test", "Benchmark:report", "Gpu:smoke", "Gpu:bench", "PipCache:snapshot",
            "SupplyChain:audit", "SupplyChain:audit_report", "SupplyChain:scan", "SupplyChain:sbom",
            "SupplyChain:security_report", "SupplyChain:scan_images",
        ],
        "never",
    )  # fmt: skip


def test_the_release_identity_is_declared_once(registered: dict[str, Any]) -> None:
    # The signer, the registry and the run are the release's arguments; its steps take only their own.
    identity = set(registered["functions"]["release"]["args"])
    assert {"key", "key_password", "id_token", "oidc_request_token", "oidc_request_url"} <= identity
    for step, spec in registered["objects"]["Release"].items():
        if step:
            assert not identity & set(spec["args"]), f"Release.{step} repeats {identity & set(spec['args'])}"


def test_the_password_is_a_secret_and_has_no_default(registered: dict[str, Any]) -> None:
    password = registered["functions"]["publish"]["args"]["password"]
    assert (password["type"], password["optional"], password["default"]) == (
        "<class 'dagger.Secret'>",
        False,
        None,
    )


def test_the_source_defaults_to_the_repository_without_local_clutter(registered: dict[str, Any]) -> None:
    source = registered["functions"][""]["args"]["source"]
    assert source["type"] == "<class 'dagger.Directory'>"
    assert source["default_path"] == "/"
    assert {".git", ".venv", "**/__pycache__", "ci/sdk"} <= set(source["ignore"])


def test_every_function_and_argument_has_a_description(registered: dict[str, Any]) -> None:
    # They are the CLI's help (`dagger functions`, `dagger call <function> --help`).
    for name, spec in every_function(registered).items():
        assert spec["doc"], f"{name} has no docstring"
        for arg, details in spec["args"].items():
            assert details["doc"], f"argument {arg} of {name or 'the constructor'} has no Doc"
