"""What only a running cluster would show, checked in the render (issues 22 and 27): no RuntimeClass that
may not exist, PDBs that never stall a drain, one model cache claim never shared by pods that cannot mount
it (a claim per pod instead), an emptyDir cache inside the pod's ephemeral-storage limit, a chart usable as
a subchart, hung model loads restarted, a per-key TTS rate limit, queue-depth autoscaling that respects a
slow warm-up (HPA and KEDA, down to zero), agents spread over nodes, a preStop pause that outlasts endpoint
propagation, an agent drain that moves kept-alive clients off before their connections close, an agent
readiness probe that outwaits the agent's bounded TTS check."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chart.chart import (
    CHART,
    COMPONENTS,
    NAMESPACE,
    RELEASE,
    VALUE_SETS,
    HelmFailed,
    Manifest,
    Rendered,
    container,
    render,
    run_helm,
)
from vibevoice_platform.agent.tts_client import READY_CHECK_S

VALUES: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())


def fails(helm: str, values: dict[str, Any], message: str) -> None:
    """Rendering `values` fails with `message` (a literal)."""
    with pytest.raises(HelmFailed, match=re.escape(message)):
        render(helm, values=values)


def pod_spec(rendered: Rendered, component: str) -> Manifest:
    """The pod template spec of a component's workload."""
    return rendered.workload(component)["spec"]["template"]["spec"]


@pytest.mark.parametrize("component", COMPONENTS)
def test_pdbs_let_unhealthy_pods_go(defaults: Rendered, component: str) -> None:
    """A crash-looping pod, or a TTS still loading, guarded by its PDB would stall a node drain."""
    assert (
        defaults.one("PodDisruptionBudget", component)["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
    )


# One model cache, several TTS pods.

TWO_PODS = {"replicaCount": 2}
AUTOSCALED = {"autoscaling": {"enabled": True, "minReplicas": 1, "maxReplicas": 3}}


@pytest.mark.parametrize("pods", [TWO_PODS, AUTOSCALED])
def test_several_pods_on_one_single_node_claim_fail(helm: str, pods: dict[str, Any]) -> None:
    count = 2 if pods is TWO_PODS else 3
    fails(helm, {"tts": pods}, f"{count} TTS pods would share one ReadWriteOnce model cache claim")
    shared = render(helm, values={"tts": {**pods, "modelCache": {"accessModes": ["ReadWriteMany"]}}})
    assert shared.one("PersistentVolumeClaim", "tts")["spec"]["accessModes"] == ["ReadWriteMany"]


def test_a_claim_per_pod_makes_the_tts_a_stateful_set(rendered_sets: dict[str, Rendered], helm: str) -> None:
    openshift = rendered_sets["openshift"]
    assert openshift.all("Deployment") == [openshift.workload("agent")]
    tts = openshift.one("StatefulSet", "tts")
    spec = tts["spec"]
    (template,) = spec["volumeClaimTemplates"]
    assert template["metadata"]["name"] == "model-cache"
    assert template["spec"] == {
        "accessModes": ["ReadWriteOnce"],
        "storageClassName": "gp3-csi",
        "resources": {"requests": {"storage": "20Gi"}},
    }
    assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    # governed by a headless Service of its own (stable pod names); clients use the ClusterIP one
    headless = [s for s in openshift.all("Service") if s["spec"].get("clusterIP") == "None"]
    assert [s["metadata"]["name"] for s in headless] == [spec["serviceName"]]
    assert headless[0]["spec"]["selector"] == spec["selector"]["matchLabels"]
    # the ServiceMonitor scrapes each pod once, through the tts Service alone
    monitor = openshift.one("ServiceMonitor", "tts")["spec"]["selector"]["matchLabels"]
    scraped = [s for s in openshift.all("Service") if monitor.items() <= s["metadata"]["labels"].items()]
    assert scraped == [openshift.one("Service", "tts")]
    assert spec["updateStrategy"] == {"type": "RollingUpdate"}
    # the pods mount the claim the template gives each of them; the chart makes no shared one
    assert "model-cache" not in [v["name"] for v in spec["template"]["spec"]["volumes"]]
    assert "model-cache" in [m["name"] for m in container(spec["template"]["spec"])["volumeMounts"]]
    assert openshift.all("PersistentVolumeClaim") == []
    assert openshift.one("ScaledObject", "tts")["spec"]["scaleTargetRef"]["kind"] == "StatefulSet"
    hpa = render(helm, values={"tts": {"modelCache": {"type": "perReplica"}, **AUTOSCALED}})
    assert hpa.one("HorizontalPodAutoscaler", "tts")["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "name": f"{RELEASE}-vibevoice-tts",
    }
    fails(
        helm,
        {"tts": {"modelCache": {"type": "perReplica"}, "strategy": {"type": "Recreate"}}},
        "tts.strategy.type Recreate has no StatefulSet form",
    )


def test_empty_dir_cache_must_fit_the_ephemeral_storage_limit(helm: str) -> None:
    """An emptyDir counts against the pod's ephemeral storage: a 20Gi model in a 2Gi limit is evicted
    mid-download."""
    fails(
        helm,
        {"tts": {"modelCache": {"type": "emptyDir"}}},
        "tts.resources.limits.ephemeral-storage (2Gi) must cover both",
    )
    just_short = {
        "modelCache": {"type": "emptyDir", "size": "20Gi"},
        "resources": {"limits": {"ephemeral-storage": "20Gi"}},
    }
    fails(helm, {"tts": just_short}, "must cover both")  # the cache and /tmp (256Mi)
    for limit in ("21Gi", "22548578304", "23G"):
        enough = {**just_short, "resources": {"limits": {"ephemeral-storage": limit}}}
        volumes = pod_spec(render(helm, values={"tts": enough}), "tts")["volumes"]
        assert {"name": "model-cache", "emptyDir": {"sizeLimit": "20Gi"}} in volumes


def test_the_chart_works_as_a_subchart(helm: str, tmp_path: Path) -> None:
    """A parent chart's values carry `global`, which the schema must accept."""
    parent = tmp_path / "platform"
    (parent / "charts").mkdir(parents=True)
    shutil.copytree(CHART, parent / "charts" / "vibevoice")
    chart = {
        "apiVersion": "v2",
        "name": "platform",
        "version": "1.0.0",
        "dependencies": [{"name": "vibevoice", "version": ">=0.0.0"}],
    }
    (parent / "Chart.yaml").write_text(yaml.safe_dump(chart))
    values = {
        "global": {"imageRegistry": "registry.example.com"},
        "vibevoice": {"tts": {"gpu": {"enabled": False}}},
    }
    (parent / "values.yaml").write_text(yaml.safe_dump(values))
    rendered = Rendered.parse(run_helm(helm, ["template", RELEASE, str(parent), "--namespace", NAMESPACE]))
    assert rendered.one("ConfigMap", "tts")["data"]["VIBEVOICE_TTS_ENGINE"] == "espeak"


# The service's side of run-time faults, wired by the chart.


def test_a_stalled_model_load_fails_liveness(defaults: Rendered, cpu: Rendered, helm: str) -> None:
    """The TTS's /health answers 503 once the load has made no progress for this long; liveness asks
    /health, so the kubelet restarts a hung load instead of waiting for ever."""
    assert defaults.one("ConfigMap", "tts")["data"]["VIBEVOICE_TTS_LOAD_STALL_S"] == "300"
    assert container(pod_spec(defaults, "tts"))["livenessProbe"]["httpGet"]["path"] == "/health"
    assert "VIBEVOICE_TTS_LOAD_STALL_S" not in cpu.one("ConfigMap", "tts")["data"]  # espeak-ng loads nothing
    unlimited = render(helm, values={"tts": {"gpu": {"loadStallSeconds": None}}})
    assert "VIBEVOICE_TTS_LOAD_STALL_S" not in unlimited.one("ConfigMap", "tts")["data"]


def test_tts_per_key_rate_limit(rendered_sets: dict[str, Rendered], defaults: Rendered) -> None:
    config = rendered_sets["gpu"].one("ConfigMap", "tts")["data"]
    assert (config["VIBEVOICE_TTS_RATE_LIMIT_PER_KEY_RPS"], config["VIBEVOICE_TTS_RATE_LIMIT_BURST"]) == (
        "50",
        "100",
    )
    # keys only exist with auth; the airgap set has auth and leaves the limit off (0)
    assert (
        rendered_sets["airgap"].one("ConfigMap", "tts")["data"]["VIBEVOICE_TTS_RATE_LIMIT_PER_KEY_RPS"] == "0"
    )
    assert not [key for key in defaults.one("ConfigMap", "tts")["data"] if "RATE_LIMIT" in key]


# Autoscaling on queue depth.


def test_hpa_waits_out_the_model_load(rendered_sets: dict[str, Rendered]) -> None:
    behavior = rendered_sets["gpu"].one("HorizontalPodAutoscaler", "tts")["spec"]["behavior"]
    assert behavior == VALUES["tts"]["autoscaling"]["behavior"]
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] == 900  # 15 minutes
    assert behavior["scaleUp"]["policies"] == [{"type": "Pods", "value": 1, "periodSeconds": 300}]
    assert "behavior" not in rendered_sets["gpu"].one("HorizontalPodAutoscaler", "agent")["spec"]


def test_keda_scales_on_queue_depth_and_to_zero(rendered_sets: dict[str, Rendered]) -> None:
    openshift = rendered_sets["openshift"]
    assert openshift.all("HorizontalPodAutoscaler") == []  # KEDA makes its own
    scaled = openshift.one("ScaledObject", "tts")
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    spec = scaled["spec"]
    assert (spec["minReplicaCount"], spec["maxReplicaCount"], spec["cooldownPeriod"]) == (0, 3, 1800)
    assert (
        spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
        == VALUES["tts"]["autoscaling"]["behavior"]
    )
    queue, wake = spec["triggers"]
    tts_sel = f'namespace="{NAMESPACE}", service="{RELEASE}-vibevoice-tts"'
    agent_sel = f'namespace="{NAMESPACE}", service="{RELEASE}-vibevoice-agent"'
    assert queue["type"] == wake["type"] == "prometheus"
    assert queue["metadata"] == {
        "serverAddress": "http://prometheus-operated.monitoring.svc:9090",
        "query": f"sum(vibevoice_tts_queue_depth{{{tts_sel}}})",
        "threshold": "2",
    }
    # with no TTS pod there is no queue: any agent turn within the idle time wakes one pod, no more
    assert (
        wake["metadata"]["query"]
        == f"clamp_max(sum(increase(vibevoice_agent_turns_total{{{agent_sel}}}[1800s])), 1)"
    )
    assert (wake["metadata"]["threshold"], wake["metadata"]["activationThreshold"]) == ("1", "0")


def test_keda_without_scale_to_zero_has_no_wake_trigger(helm: str) -> None:
    autoscaling = {"enabled": True, "engine": "keda", "minReplicas": 1, "targetQueueDepth": 3}
    values = {"tts": {"gpu": {"enabled": False}, "autoscaling": autoscaling}}
    spec = render(helm, values=values).one("ScaledObject", "tts")["spec"]
    assert [trigger["name"] for trigger in spec["triggers"]] == ["queue-depth"]
    assert "cooldownPeriod" not in spec
    assert spec["scaleTargetRef"]["kind"] == "Deployment"


@pytest.mark.parametrize(
    ("autoscaling", "message"),
    [
        ({"engine": "keda"}, "tts.autoscaling.targetQueueDepth is required with engine keda"),
        ({"minReplicas": 0}, "tts.autoscaling.minReplicas 0 needs engine keda"),
    ],
)
def test_impossible_autoscaling_fails(helm: str, autoscaling: dict[str, Any], message: str) -> None:
    fails(
        helm, {"tts": {"gpu": {"enabled": False}, "autoscaling": {"enabled": True, **autoscaling}}}, message
    )


# Scheduling, the test pod, shutdown.


def test_agents_spread_over_nodes_by_default(defaults: Rendered, helm: str) -> None:
    (spread,) = pod_spec(defaults, "agent")["topologySpreadConstraints"]
    assert spread["topologyKey"] == "kubernetes.io/hostname"
    assert spread["whenUnsatisfiable"] == "ScheduleAnyway"  # soft: a single-node cluster still runs both
    assert (
        spread["labelSelector"]["matchLabels"]
        == defaults.workload("agent")["spec"]["selector"]["matchLabels"]
    )
    off = render(helm, values={"agent": {"topologySpreadConstraints": []}})
    assert "topologySpreadConstraints" not in pod_spec(off, "agent")


@pytest.mark.parametrize("name", VALUE_SETS)
def test_test_pod_bounds_its_ephemeral_storage(rendered_sets: dict[str, Rendered], name: str) -> None:
    (pod,) = rendered_sets[name].all("Pod")
    resources = container(pod["spec"])["resources"]
    assert resources["requests"]["ephemeral-storage"]
    assert resources["limits"]["ephemeral-storage"]


@pytest.mark.parametrize("name", VALUE_SETS)
@pytest.mark.parametrize("component", COMPONENTS)
def test_prestop_outlasts_endpoint_propagation(
    rendered_sets: dict[str, Rendered], name: str, component: str
) -> None:
    """Issue 27: kube-proxy took up to 4 s to drop an endpoint; with a 1 s pause upgrades lost turns."""
    pause = container(pod_spec(rendered_sets[name], component))["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pause >= 5


@pytest.mark.parametrize("name", VALUE_SETS)
def test_agent_drains_kept_alive_clients_before_closing_their_connections(
    rendered_sets: dict[str, Rendered], name: str
) -> None:
    """While draining, each response closes its connection. A cluster showed why: with no drain the agent
    closed its idle kept-alive connections at SIGTERM, and a pooled client's turn sent at that moment was
    lost (Broken pipe) on each of 10 rolling upgrades, while clients connecting per turn lost none."""
    config = rendered_sets[name].one("ConfigMap", "agent")["data"]
    assert float(config["VIBEVOICE_AGENT_DRAIN_S"]) >= 2


@pytest.mark.parametrize("name", VALUE_SETS)
def test_agent_readiness_probe_outwaits_its_tts_check(rendered_sets: dict[str, Rendered], name: str) -> None:
    """The agent's /ready waits for the TTS's at most READY_CHECK_S: a probe that gave up sooner would take
    the agents out of their Service whenever the TTS hangs (a cluster showed it, with a 2 s TTS check)."""
    probe = container(pod_spec(rendered_sets[name], "agent"))["readinessProbe"]
    assert probe["timeoutSeconds"] >= 2 * READY_CHECK_S


@pytest.mark.parametrize("component", COMPONENTS)
def test_schema_refuses_a_prestop_below_the_floor(helm: str, component: str) -> None:
    with pytest.raises(
        HelmFailed, match=rf"{component}\.shutdown\.preStopSeconds: Must be greater than or equal to 5"
    ):
        render(helm, values={component: {"shutdown": {"preStopSeconds": 4}}})
