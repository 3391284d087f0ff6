"""The helm command lines the pipeline runs against the chart, as plain data.

`helm_lint` (the check) lints and renders the chart with its defaults and with every ci values file
(the chart-testing convention: `ci/*-values.yaml`); `helm_template` renders one set; the cluster test
installs the chart and runs its `helm test` pod. The tests run these very argument lists with the
project's own helm (lint and template against the chart, upgrade and test until the missing cluster
stops them), so a wrong flag fails here first.

Values given on the command line go through `--set-string`: with `--set`, a tag such as `1.2` or a
digest-looking string would be parsed as a number and the chart's schema would reject it. Helm splits
a `--set-string` argument on commas, so a value holding one is refused rather than silently split.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

# The chart, relative to the repository root, and where the pipeline's helm container mounts it.
CHART_DIR = "infra/k8s/charts/vibevoice"
CHART_MOUNT = "/chart"
# chart-testing's convention: the representative values sets of a chart live in ci/<name>-values.yaml.
CI_VALUES_DIR = "ci"
CI_VALUES_SUFFIX = "-values.yaml"
DEFAULTS = "defaults"
# What a kind or k3s cluster runs (the CPU variant); the default of `helm_template` and the cluster test.
CLUSTER_VALUES = "cpu"
RELEASE = "vibevoice"
NAMESPACE = "vibevoice"
# The chart's images, by component (the repositories of values.yaml).
COMPONENTS = ("tts", "agent")

# Helm's own limit on release names (they become label values and name prefixes), DNS-1123 labels.
_RELEASE = re.compile(r"[a-z0-9](?:[-a-z0-9]{0,51}[a-z0-9])?")
_NAMESPACE = re.compile(r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?")
_KUBE_VERSION = re.compile(r"v?\d+\.\d+(?:\.\d+)?")
_SET_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-\[\]]*")
_DIGEST = re.compile(r"sha256:[a-f0-9]{64}")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_REGISTRY = re.compile(r"[a-z0-9]+(?:[.-][a-z0-9]+)*(?::\d+)?(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*")


def ci_values_files(chart_dir: str, ci_entries: Iterable[str]) -> list[str]:
    """The chart's ci values files as paths under `chart_dir`, sorted; `ci_entries` lists its ci/ folder."""
    names = sorted({entry.rstrip("/") for entry in ci_entries})
    return [
        f"{chart_dir}/{CI_VALUES_DIR}/{name}"
        for name in names
        if name.endswith(CI_VALUES_SUFFIX) and len(name) > len(CI_VALUES_SUFFIX)
    ]


def value_sets(chart_dir: str, ci_entries: Iterable[str]) -> dict[str, list[str]]:
    """Every values set to check, by name: the chart's defaults (no file), then each ci values file."""
    sets: dict[str, list[str]] = {DEFAULTS: []}
    for path in ci_values_files(chart_dir, ci_entries):
        sets[path.rsplit("/", 1)[1].removesuffix(CI_VALUES_SUFFIX)] = [path]
    return sets


def cluster_values_file(chart_dir: str) -> str:
    """The values file a test cluster runs (ci/cpu-values.yaml under `chart_dir`)."""
    return f"{chart_dir}/{CI_VALUES_DIR}/{CLUSTER_VALUES}{CI_VALUES_SUFFIX}"


def helm_lint(chart: str, values_files: Sequence[str] = ()) -> list[str]:
    """`helm lint --strict`: warnings fail too, and the values are checked against the chart's schema."""
    return ["helm", "lint", "--strict", chart, *_values_args(values_files)]


def helm_template(
    release: str,
    chart: str,
    *,
    namespace: str,
    values_files: Sequence[str] = (),
    set_strings: Mapping[str, str] | None = None,
    kube_version: str = "",
    output_dir: str = "",
) -> list[str]:
    """`helm template`: the manifests (the `helm test` pod included) on stdout, or in `output_dir`.

    `kube_version` is the Kubernetes version the chart's capabilities and kubeVersion check see.
    """
    argv = ["helm", "template", _release(release), chart, "--namespace", _namespace(namespace)]
    argv += _values_args(values_files) + set_string_args(set_strings or {})
    if kube_version:
        if not _KUBE_VERSION.fullmatch(kube_version):
            msg = f"not a Kubernetes version: {kube_version!r} (e.g. 1.33.0)"
            raise ValueError(msg)
        argv += ["--kube-version", kube_version]
    if output_dir:
        argv += ["--output-dir", output_dir]
    return argv


def helm_upgrade_install(
    release: str,
    chart: str,
    *,
    namespace: str,
    values_files: Sequence[str] = (),
    set_strings: Mapping[str, str] | None = None,
    timeout_s: int,
) -> list[str]:
    """Install or upgrade the release and wait until every Deployment is available (or time out)."""
    return [
        "helm",
        "upgrade",
        _release(release),
        chart,
        "--install",
        "--create-namespace",
        "--namespace",
        _namespace(namespace),
        "--wait",
        "--timeout",
        _seconds(timeout_s),
        *_values_args(values_files),
        *set_string_args(set_strings or {}),
    ]


def helm_test(release: str, *, namespace: str, timeout_s: int) -> list[str]:
    """Run the release's test pods and print their logs (a failing pod fails the command)."""
    return [
        "helm",
        "test",
        _release(release),
        "--namespace",
        _namespace(namespace),
        "--logs",
        "--timeout",
        _seconds(timeout_s),
    ]


def lint_commands(
    chart: str, ci_entries: Iterable[str], *, kube_version: str, output_dir: str
) -> list[list[str]]:
    """What the `helm_lint` check runs: for every values set, lint then render (into output_dir/<set>)."""
    commands: list[list[str]] = []
    for name, files in value_sets(chart, ci_entries).items():
        commands.append(helm_lint(chart, files))
        commands.append(
            helm_template(
                RELEASE,
                chart,
                namespace=NAMESPACE,
                values_files=files,
                kube_version=kube_version,
                output_dir=f"{output_dir}/{name}",
            )
        )
    return commands


def image_overrides(registry: str, tag: str = "", digests: Mapping[str, str] | None = None) -> dict[str, str]:
    """The chart values that point both services at freshly built images.

    `registry` becomes `imageRegistry` (e.g. `registry:5000`); a component named in `digests` is pinned by
    digest, the others take `tag` (none: the chart's appVersion).
    """
    if not _REGISTRY.fullmatch(registry):
        msg = f"not a registry host[:port][/path]: {registry!r} (no scheme, lowercase)"
        raise ValueError(msg)
    if tag and not _TAG.fullmatch(tag):
        msg = f"not an image tag: {tag!r}"
        raise ValueError(msg)
    pinned = dict(digests or {})
    unknown = sorted(set(pinned) - set(COMPONENTS))
    if unknown:
        msg = f"no such component: {', '.join(unknown)}; choose from: {', '.join(COMPONENTS)}"
        raise ValueError(msg)
    overrides = {"imageRegistry": registry}
    for component in COMPONENTS:
        digest = pinned.get(component, "")
        if digest:
            if not _DIGEST.fullmatch(digest):
                msg = f"not an image digest for {component}: {digest!r} (sha256:<64 hex digits>)"
                raise ValueError(msg)
            overrides[f"{component}.image.digest"] = digest
        elif tag:
            overrides[f"{component}.image.tag"] = tag
    return overrides


def set_string_args(values: Mapping[str, str]) -> list[str]:
    """`--set-string key=value` for each value, in order; keys and values helm would misread are refused."""
    argv: list[str] = []
    for key, value in values.items():
        if not _SET_KEY.fullmatch(key):
            msg = f"not a values path for --set-string: {key!r}"
            raise ValueError(msg)
        if "," in value:
            msg = f"helm would split the value of {key} at its comma: {value!r}"
            raise ValueError(msg)
        argv += ["--set-string", f"{key}={value}"]
    return argv


def _values_args(files: Sequence[str]) -> list[str]:
    return [arg for path in files for arg in ("--values", path)]


def _release(name: str) -> str:
    if not _RELEASE.fullmatch(name):
        msg = f"not a release name: {name!r} (lowercase letters, digits and '-', at most 53)"
        raise ValueError(msg)
    return name


def _namespace(name: str) -> str:
    if not _NAMESPACE.fullmatch(name):
        msg = f"not a namespace: {name!r} (lowercase letters, digits and '-', at most 63)"
        raise ValueError(msg)
    return name


def _seconds(timeout_s: int) -> str:
    if timeout_s <= 0:
        msg = f"a timeout must be positive, not {timeout_s}"
        raise ValueError(msg)
    return f"{timeout_s}s"
