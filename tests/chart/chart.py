"""The vibevoice chart rendered by the real helm, for the chart tests.

helm runs with its cache, config and data homes in the project (.tools/helm), as `make` sets them.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.support.tools import ROOT

CHART = ROOT / "infra" / "k8s" / "charts" / "vibevoice"
RELEASE = "voice"
NAMESPACE = "voice-test"
# The chart's defaults and each ci/*-values.yaml file (the chart-testing convention), by name.
VALUE_SETS: dict[str, tuple[Path, ...]] = {
    "defaults": (),
    **{path.name.removesuffix("-values.yaml"): (path,) for path in sorted(CHART.glob("ci/*-values.yaml"))},
}
COMPONENTS = ("tts", "agent")
WORKLOAD_KINDS = ("Deployment", "StatefulSet")

Manifest = dict[str, Any]


class HelmFailed(Exception):
    """helm exited non-zero; the message is its output (lint reports on stdout, the rest on stderr)."""


def helm_env() -> dict[str, str]:
    """The environment helm runs in: its homes inside the project, not the user's."""
    homes = ROOT / ".tools" / "helm"
    return {
        **os.environ,
        "HELM_CACHE_HOME": str(homes / "cache"),
        "HELM_CONFIG_HOME": str(homes / "config"),
        "HELM_DATA_HOME": str(homes / "data"),
    }


def run_helm(helm: str, args: Sequence[str], values: Mapping[str, Any] | None = None) -> str:
    """Run `helm ARGS`, with `values` (if any) as one more values file on stdin; its stdout."""
    argv = [helm, *args]
    stdin = None
    if values is not None:
        argv += ["--values", "-"]
        stdin = yaml.safe_dump(dict(values))
    result = subprocess.run(argv, input=stdin, capture_output=True, text=True, env=helm_env(), check=False)
    if result.returncode != 0:
        raise HelmFailed(f"{result.stdout}\n{result.stderr}".strip())
    return result.stdout


def values_args(files: Sequence[Path]) -> list[str]:
    """`--values FILE` for each file."""
    return [arg for path in files for arg in ("--values", str(path))]


def template_text(helm: str, files: Sequence[Path] = (), values: Mapping[str, Any] | None = None) -> str:
    """`helm template` of the chart (hooks and test pod included) as YAML text."""
    args = ["template", RELEASE, str(CHART), "--namespace", NAMESPACE, *values_args(files)]
    return run_helm(helm, args, values)


@dataclass(frozen=True)
class Rendered:
    """The manifests one `helm template` produced."""

    manifests: tuple[Manifest, ...]

    @classmethod
    def parse(cls, text: str) -> Rendered:
        """Split and parse helm's multi-document output (empty documents dropped)."""
        return cls(tuple(doc for doc in yaml.safe_load_all(text) if doc))

    def kinds(self) -> list[str]:
        """The kind of every manifest, in order."""
        return [manifest["kind"] for manifest in self.manifests]

    def all(self, kind: str) -> list[Manifest]:
        """Every manifest of `kind`."""
        return [manifest for manifest in self.manifests if manifest["kind"] == kind]

    def one(self, kind: str, component: str) -> Manifest:
        """The single manifest of `kind` that belongs to `component` (by its component label)."""
        found = [m for m in self.all(kind) if component_of(m) == component]
        assert len(found) == 1, f"{len(found)} {kind} manifests for {component}: {self.kinds()}"
        return found[0]

    def workload(self, component: str) -> Manifest:
        """The Deployment of `component`, or its StatefulSet (the TTS with a model cache per pod)."""
        found = [m for kind in WORKLOAD_KINDS for m in self.all(kind) if component_of(m) == component]
        assert len(found) == 1, f"{len(found)} workloads for {component}: {self.kinds()}"
        return found[0]

    def pod_specs(self) -> Iterator[tuple[str, Manifest]]:
        """(name, pod spec) of every pod the manifests make: workloads' templates and bare Pods."""
        for manifest in self.manifests:
            name = f"{manifest['kind']}/{manifest['metadata']['name']}"
            if manifest["kind"] in WORKLOAD_KINDS:
                yield name, manifest["spec"]["template"]["spec"]
            elif manifest["kind"] == "Pod":
                yield name, manifest["spec"]


def component_of(manifest: Manifest) -> str | None:
    """The app.kubernetes.io/component label of a manifest."""
    return manifest["metadata"].get("labels", {}).get("app.kubernetes.io/component")


def render(helm: str, files: Sequence[Path] = (), values: Mapping[str, Any] | None = None) -> Rendered:
    """`helm template` of the chart, parsed."""
    return Rendered.parse(template_text(helm, files, values))


def container(pod_spec: Manifest) -> Manifest:
    """The one container of a pod spec (every pod of the chart has exactly one)."""
    containers = pod_spec["containers"]
    assert len(containers) == 1, [c["name"] for c in containers]
    return containers[0]


def env_of(container_spec: Manifest) -> dict[str, Any]:
    """A container's `env` entries by name (the value, or the valueFrom source)."""
    return {
        entry["name"]: entry.get("value", entry.get("valueFrom")) for entry in container_spec.get("env", [])
    }


def chart_environment(rendered: Rendered, component: str) -> dict[str, str]:
    """A component container's environment: its ConfigMap, then its literal `env` entries (not Secrets)."""
    spec = rendered.workload(component)["spec"]["template"]["spec"]
    literal = {name: value for name, value in env_of(container(spec)).items() if isinstance(value, str)}
    return {**rendered.one("ConfigMap", component)["data"], **literal}
