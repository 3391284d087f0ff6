"""The module as the engine sees it: dagger.json, the SDK pin, and what the SDK registered.

The registration is the one the stand-in engine received (conftest.py's `recording`): the SDK's own
type definitions of every object, function and argument, as sent over the wire.
"""

from __future__ import annotations

import importlib.metadata
import json
import tomllib
from typing import Any

from recording_engine.recording import Function, Recording

from tests.support.tools import ROOT

CI = ROOT / "ci"


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


def every_function(recording: Recording) -> dict[str, Function]:
    """Every function of the module, as `Object.function` (`Vibevoice.ci`, `SupplyChain.audit`)."""
    return dict(recording.registration.functions())


def test_the_module_api_is_exactly_these_functions(recording: Recording) -> None:
    # The table of contents: the verbs users type, and one function per concern returning its object.
    objects = recording.registration.objects
    assert set(objects[main_object_name()]) == {
        "",  # the constructor
        "lint_env", "lint", "test_env", "test", "test_report",
        "build", "images", "smoke", "publish", "release", "bench", "ci",
        "services", "supply_chain", "chart", "benchmark", "suite", "image_checks", "pip_cache", "gpu",
    }  # fmt: skip
    assert {
        name: set(functions) - {""} for name, functions in objects.items() if name != main_object_name()
    } == {
        "Services": {"tts", "agent"},
        "SupplyChain": {"audit", "audit_report", "scan", "sbom", "security_report", "scan_images"},
        "Release": {"publish", "run", "sign", "attest", "verify"},
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
    # `dagger check` runs these
    assert {path for path, function in every_function(recording).items() if function.check} == {
        "Vibevoice.lint", "Vibevoice.test", "Vibevoice.smoke",
        "SupplyChain.audit", "SupplyChain.scan_images",
        "Chart.lint", "Chart.tests",
        "Suite.typecheck", "Suite.pipeline_tests", "Suite.repository_tests", "Suite.model_tests",
        "ImageChecks.non_root", "ImageChecks.read_only_root", "ImageChecks.healthy",
        "ImageChecks.no_build_leftovers",
    }  # fmt: skip


def test_every_concern_and_every_check_is_reached_without_required_arguments(recording: Recording) -> None:
    # `dagger check 'supply-chain:*'` finds a concern's checks only through a function that needs
    # no argument, and `dagger check` calls each check with none.
    main = recording.registration.objects[main_object_name()]
    concerns = [
        f"{main_object_name()}.{name}"
        for name, fn in main.items()
        if name and fn.returns in recording.registration.objects
    ]
    checks = [path for path, function in every_function(recording).items() if function.check]
    for path in [*concerns, *checks]:
        function = every_function(recording)[path]
        required = [arg.name for arg in function.arguments if not arg.optional and arg.default is None]
        assert required == [], f"{path} requires {required}"


def test_the_release_identity_is_declared_once(recording: Recording) -> None:
    # The signer, the registry and the run are the release's arguments; its steps take only their own.
    main = recording.registration.objects[main_object_name()]
    identity = {arg.name for arg in main["release"].arguments}
    assert {"key", "key_password", "id_token", "oidc_request_token", "oidc_request_url"} <= identity
    for step, function in recording.registration.objects["Release"].items():
        repeated = identity & {arg.name for arg in function.arguments}
        assert not repeated, f"Release.{step} repeats {repeated}"


def test_every_credential_is_a_secret(recording: Recording) -> None:
    # A secret argument is `--password env://NAME`: never on the command line, never in a log.
    credentials = {"password", "token"}
    for path, function in every_function(recording).items():
        for arg in function.arguments:
            if credentials & set(arg.name.split("_")) or arg.name == "oidc_request_url":
                assert arg.type_name == "Secret", f"{path} takes {arg.name} as {arg.kind} {arg.type_name}"
    signing_key = next(
        a for a in every_function(recording)[f"{main_object_name()}.release"].arguments if a.name == "key"
    )
    assert signing_key.type_name == "Secret"
    password = next(
        a
        for a in every_function(recording)[f"{main_object_name()}.publish"].arguments
        if a.name == "password"
    )
    assert (password.optional, password.default) == (False, None)


def test_the_source_defaults_to_the_repository_without_local_clutter(recording: Recording) -> None:
    constructor = recording.registration.objects[main_object_name()][""]
    source = next(arg for arg in constructor.arguments if arg.name == "source")
    assert (source.type_name, source.default_path) == ("Directory", "/")
    assert {".git", ".venv", "**/__pycache__", "ci/sdk"} <= set(source.ignore)


def test_a_regression_fails_the_benchmark_unless_asked_not_to(recording: Recording) -> None:
    for path in (f"{main_object_name()}.bench", "Gpu.bench"):
        enforce = next(arg for arg in every_function(recording)[path].arguments if arg.name == "enforce")
        assert enforce.default == "true", path


def test_every_function_and_argument_has_a_description(recording: Recording) -> None:
    # They are the CLI's help (`dagger functions`, `dagger call <function> --help`).
    for path, function in every_function(recording).items():
        assert function.doc, f"{path} has no docstring"
        for arg in function.arguments:
            assert arg.doc, f"argument {arg.name} of {path} has no Doc"
    for arg in recording.registration.objects[main_object_name()][""].arguments:
        assert arg.doc, f"argument {arg.name} of the constructor has no Doc"
