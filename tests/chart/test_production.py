"""The chart as a GPU cluster runs it: each finding of the production review (issue 17) checked both ways,
the setting that fixes it on and off: the CUDA image, rollouts, sessions across agent pods, queue-depth
autoscaling, the model cache, API keys, escape hatches, network policy, pod labels, alerts, dashboard."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.metrics_core import Metric

from tests.chart.chart import (
    CHART,
    COMPONENTS,
    NAMESPACE,
    RELEASE,
    HelmFailed,
    Manifest,
    Rendered,
    container,
    env_of,
    render,
    run_helm,
)
from vibevoice_platform.agent.metrics import AgentMetrics
from vibevoice_platform.tts.metrics import TTSMetrics


def pod_spec(rendered: Rendered, component: str) -> Manifest:
    """The pod template spec of a component's Deployment."""
    return rendered.workload(component)["spec"]["template"]["spec"]


def tts_image(rendered: Rendered) -> str:
    """The image the TTS Deployment runs."""
    return container(pod_spec(rendered, "tts"))["image"]


def fails(helm: str, values: dict[str, Any], message: str) -> None:
    """Rendering `values` fails with `message` (a literal)."""
    with pytest.raises(HelmFailed, match=re.escape(message)):
        render(helm, values=values)


# The CUDA image on a GPU.


@pytest.mark.parametrize(
    ("cuda", "image"),
    [
        ({"tag": "2.0.0-gpu"}, "vibevoice-tts:2.0.0-gpu"),
        ({"tagSuffix": "-cu126"}, "vibevoice-tts:0.1.0-cu126"),
        ({"repository": "voice/tts-cuda", "tagSuffix": ""}, "voice/tts-cuda:0.1.0"),
        ({"digest": "sha256:" + "c" * 64}, "vibevoice-tts@sha256:" + "c" * 64),
    ],
)
def test_gpu_runs_the_cuda_build_however_it_is_named(helm: str, cuda: dict[str, str], image: str) -> None:
    rendered = render(helm, values={"tts": {"image": {"cuda": cuda}}})
    assert tts_image(rendered) == image
    assert fetch_container(rendered)["image"] == image


@pytest.mark.parametrize(
    "values",
    [
        {"tts": {"image": {"cuda": {"tagSuffix": ""}}}},
        {"tts": {"image": {"tag": "1.0", "cuda": {"tag": "1.0"}}}},
    ],
)
def test_gpu_with_the_cpu_build_fails(helm: str, values: dict[str, Any]) -> None:
    fails(helm, values, "tts.gpu.enabled needs the CUDA build of the TTS image")


def test_cpu_variant_ignores_the_cuda_build(helm: str) -> None:
    rendered = render(helm, values={"tts": {"gpu": {"enabled": False}, "image": {"cuda": {"tagSuffix": ""}}}})
    assert tts_image(rendered) == "vibevoice-tts:0.1.0"


# Rollouts: no surge pod on a fixed GPU pool, a progress deadline longer than the model load.


def rollout(rendered: Rendered, component: str) -> tuple[dict[str, Any], int]:
    """A component Deployment's strategy and progressDeadlineSeconds."""
    spec = rendered.workload(component)["spec"]
    return spec["strategy"], spec["progressDeadlineSeconds"]


def test_default_rollouts(defaults: Rendered, cpu: Rendered) -> None:
    strategy, deadline = rollout(defaults, "tts")
    assert strategy == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert deadline > values["tts"]["gpu"]["modelLoadSeconds"] == 900
    assert rollout(cpu, "tts")[1] == 600
    strategy, agent_deadline = rollout(defaults, "agent")
    assert strategy == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}}
    assert agent_deadline == deadline == 1200  # never shorter than the TTS's
    assert rollout(cpu, "agent")[1] == 600


def test_recreate_and_explicit_deadlines(rendered_sets: dict[str, Rendered]) -> None:
    airgap = rendered_sets["airgap"]
    assert rollout(airgap, "tts") == ({"type": "Recreate"}, 1800)
    assert rollout(airgap, "agent") == ({"type": "Recreate"}, 1800)
    assert rollout(rendered_sets["gpu"], "tts")[1] == 1500  # modelLoadSeconds 1200 + 300


def test_deadline_shorter_than_the_model_load_fails(helm: str) -> None:
    fails(
        helm,
        {"tts": {"progressDeadlineSeconds": 900}},
        "tts.progressDeadlineSeconds (900) must exceed the model load budget tts.gpu.modelLoadSeconds (900)",
    )
    cpu_values = {"tts": {"gpu": {"enabled": False}, "progressDeadlineSeconds": 60}}
    assert rollout(render(helm, values=cpu_values), "tts")[1] == 60


def test_agent_deadline_shorter_than_the_tts_fails(helm: str) -> None:
    fails(
        helm,
        {"agent": {"progressDeadlineSeconds": 600}},
        "agent.progressDeadlineSeconds (600) is shorter than the TTS's (1200)",
    )
    assert rollout(render(helm, values={"agent": {"progressDeadlineSeconds": 1500}}), "agent")[1] == 1500


# Sessions across agent pods: see test_edge.py.


@pytest.mark.parametrize(
    "agent",
    [
        {"sessionAffinity": {"enabled": False}},
        {"replicaCount": 1, "sessionAffinity": {"enabled": False}, "autoscaling": {"enabled": True}},
    ],
)
def test_several_agent_pods_without_affinity_fail(helm: str, agent: dict[str, Any]) -> None:
    fails(helm, {"agent": agent}, "agent.sessionAffinity.enabled=false keeps each conversation's history")


# Autoscaling on queue depth.


def test_tts_scales_on_queue_depth_beside_cpu(rendered_sets: dict[str, Rendered], helm: str) -> None:
    metrics = rendered_sets["gpu"].one("HorizontalPodAutoscaler", "tts")["spec"]["metrics"]
    assert [metric["type"] for metric in metrics] == ["Resource", "Pods"]
    assert metrics[1]["pods"] == {
        "metric": {"name": "vibevoice_tts_queue_depth"},
        "target": {"type": "AverageValue", "averageValue": "2"},
    }
    assert [
        m["type"] for m in rendered_sets["gpu"].one("HorizontalPodAutoscaler", "agent")["spec"]["metrics"]
    ] == ["Resource"]
    queue_only = {
        "modelCache": {"accessModes": ["ReadWriteMany"]},
        "autoscaling": {"enabled": True, "targetCPUUtilizationPercentage": None, "targetQueueDepth": 1.5},
    }
    (metric,) = render(helm, values={"tts": queue_only}).one("HorizontalPodAutoscaler", "tts")["spec"][
        "metrics"
    ]
    assert metric["pods"]["target"]["averageValue"] == "1.5"
    no_target = {
        "gpu": {"enabled": False},
        "autoscaling": {"enabled": True, "targetCPUUtilizationPercentage": None},
    }
    fails(helm, {"tts": no_target}, "tts.autoscaling needs a target")


# The model cache.


def fetch_container(rendered: Rendered) -> Manifest:
    """The TTS pod's init container that fetches the weights."""
    (init,) = pod_spec(rendered, "tts")["initContainers"]
    assert init["name"] == "fetch-model"
    return init


def volume(rendered: Rendered, name: str) -> Manifest:
    """A volume of the TTS pod by name."""
    return next(v for v in pod_spec(rendered, "tts")["volumes"] if v["name"] == name)


def test_default_cache_is_a_claim_filled_at_the_revisions(defaults: Rendered) -> None:
    (claim,) = defaults.all("PersistentVolumeClaim")
    assert claim["spec"] == {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "20Gi"}}}
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert volume(defaults, "model-cache") == {
        "name": "model-cache",
        "persistentVolumeClaim": {"claimName": claim["metadata"]["name"]},
    }
    init = fetch_container(defaults)
    env = env_of(init)
    assert env == {
        "HF_HOME": "/var/cache/huggingface",
        # the tokenizer's repository without its weights
        "VIBEVOICE_FETCH_REPOS": "microsoft/VibeVoice-Realtime-0.5B@6bce5f06044837fe6d2c5d7a71a84f0416bd57e4 "
        "Qwen/Qwen2.5-0.5B@060db6499f32faf8b98477b0a26969ef7d8b9987:*.json,*.txt",
    }
    assert init["command"] == ["python3", "-c", (CHART / "files" / "fetch_model.py").read_text()]
    assert {"name": "model-cache", "mountPath": "/var/cache/huggingface"} in init["volumeMounts"]
    assert init["securityContext"]["readOnlyRootFilesystem"] is True
    assert "ephemeral-storage" in init["resources"]["requests"]


def test_pinned_revisions_token_and_shared_claim(rendered_sets: dict[str, Rendered]) -> None:
    gpu = rendered_sets["gpu"]
    env = env_of(fetch_container(gpu))
    assert env["VIBEVOICE_FETCH_REPOS"] == (
        "microsoft/VibeVoice-Realtime-0.5B@0123456789abcdef0123456789abcdef01234567 "
        "Qwen/Qwen2.5-0.5B@89abcdef0123456789abcdef0123456789abcdef:tokenizer*,vocab.json,merges.txt"
    )
    assert env["HF_TOKEN"] == {"secretKeyRef": {"name": "huggingface", "key": "token"}}
    (claim,) = gpu.all("PersistentVolumeClaim")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    assert claim["spec"]["storageClassName"] == "efs"
    assert claim["spec"]["resources"]["requests"]["storage"] == "40Gi"


def test_air_gapped_mode_reads_an_existing_claim_and_fetches_nothing(
    rendered_sets: dict[str, Rendered],
) -> None:
    airgap = rendered_sets["airgap"]
    assert "initContainers" not in pod_spec(airgap, "tts")
    assert airgap.all("PersistentVolumeClaim") == []
    assert volume(airgap, "model-cache")["persistentVolumeClaim"] == {"claimName": "vibevoice-weights"}
    assert airgap.one("ConfigMap", "tts")["data"]["HF_HUB_OFFLINE"] == "1"


def test_empty_dir_cache(helm: str) -> None:
    values = {
        "modelCache": {"type": "emptyDir", "size": "15Gi"},
        "resources": {"limits": {"ephemeral-storage": "16Gi"}},
    }
    rendered = render(helm, values={"tts": values})
    assert rendered.all("PersistentVolumeClaim") == []
    assert volume(rendered, "model-cache") == {"name": "model-cache", "emptyDir": {"sizeLimit": "15Gi"}}
    assert fetch_container(rendered)


@pytest.mark.parametrize(
    ("cache", "model", "message"),
    [
        ({"mode": "local", "type": "emptyDir"}, None, "tts.modelCache.mode local needs a volume"),
        ({"mode": "local"}, None, "a claim this chart makes (type pvc) starts empty"),
        (
            {"mode": "local", "type": "perReplica"},
            None,
            "a claim this chart makes (type perReplica) starts empty",
        ),
        ({"type": "existingClaim"}, None, "tts.modelCache.existingClaim must name the claim"),
        ({}, "/models/vibevoice", "tts.gpu.model is a path, which cannot be downloaded"),
    ],
)
def test_impossible_caches_fail(helm: str, cache: dict[str, str], model: str | None, message: str) -> None:
    values: dict[str, Any] = {"tts": {"modelCache": cache}}
    if model:
        values["tts"]["gpu"] = {"model": model}
    fails(helm, values, message)


def test_local_mode_takes_a_model_path(helm: str) -> None:
    cache = {"mode": "local", "type": "existingClaim", "existingClaim": "weights"}
    values = {"tts": {"gpu": {"model": "/var/cache/huggingface/vibevoice"}, "modelCache": cache}}
    rendered = render(helm, values=values)
    assert (
        rendered.one("ConfigMap", "tts")["data"]["VIBEVOICE_TTS_MODEL"] == "/var/cache/huggingface/vibevoice"
    )
    assert "initContainers" not in pod_spec(rendered, "tts")


@pytest.mark.parametrize("component", COMPONENTS)
def test_every_container_requests_ephemeral_storage(
    rendered_sets: dict[str, Rendered], component: str
) -> None:
    for name, rendered in rendered_sets.items():
        resources = container(pod_spec(rendered, component))["resources"]
        assert "ephemeral-storage" in resources["requests"], name


# API keys and the Ingress.

AUTH = {"auth": {"enabled": True, "secretName": "keys"}}


def secret_env(rendered: Rendered) -> dict[str, dict[str, Any]]:
    """Every env entry of every pod that comes from a Secret, by pod and name."""
    return {
        f"{pod}:{name}": value
        for pod, spec in rendered.pod_specs()
        for name, value in env_of(container(spec)).items()
        if isinstance(value, dict)
    }


def test_api_keys_come_from_the_secret(rendered_sets: dict[str, Rendered]) -> None:
    keys = {"secretKeyRef": {"name": "vibevoice-api-keys", "key": "api-keys"}}
    client = {"secretKeyRef": {"name": "vibevoice-api-keys", "key": "client-key"}}
    found = secret_env(rendered_sets["gpu"])
    assert found[f"Deployment/{RELEASE}-vibevoice-tts:VIBEVOICE_TTS_API_KEYS"] == keys
    assert found[f"Deployment/{RELEASE}-vibevoice-agent:VIBEVOICE_AGENT_API_KEYS"] == keys
    assert found[f"Deployment/{RELEASE}-vibevoice-agent:VIBEVOICE_AGENT_TTS_API_KEY"] == client
    assert found[f"Pod/{RELEASE}-vibevoice-test:VIBEVOICE_TEST_API_KEY"] == client
    config = rendered_sets["gpu"].one("ConfigMap", "agent")["data"]
    assert (config["VIBEVOICE_AGENT_RATE_LIMIT_PER_MINUTE"], config["VIBEVOICE_AGENT_RATE_LIMIT_BURST"]) == (
        "30",
        "5",
    )
    airgap = secret_env(rendered_sets["airgap"])
    assert (
        airgap[f"Deployment/{RELEASE}-vibevoice-agent:VIBEVOICE_AGENT_TTS_API_KEY"]["secretKeyRef"]["key"]
        == "internal"
    )


def test_no_api_keys_by_default(defaults: Rendered) -> None:
    # only the LLM's key, from its Secret
    assert [name for name in secret_env(defaults) if "API_KEY" in name] == [
        f"Deployment/{RELEASE}-vibevoice-agent:VIBEVOICE_AGENT_OPENAI_API_KEY"
    ]
    assert "VIBEVOICE_AGENT_RATE_LIMIT_PER_MINUTE" not in defaults.one("ConfigMap", "agent")["data"]


def test_api_keys_need_a_secret(helm: str) -> None:
    fails(helm, {"auth": {"enabled": True}}, "auth.secretName must name an existing Secret")
    assert render(helm, values=AUTH).all("Secret") == []


@pytest.mark.parametrize("path", ["/", "/metrics", "/docs", "/health", "/v1"])
def test_ingress_publishes_only_the_apis(helm: str, path: str) -> None:
    values = {
        "ingress": {"enabled": True, "paths": [{"path": path, "pathType": "Prefix", "component": "agent"}]}
    }
    with pytest.raises(HelmFailed, match=r"ingress\.paths\.0\.path: Does not match pattern"):
        render(helm, values=values)


# Escape hatches.


def test_escape_hatches_reach_the_pods(rendered_sets: dict[str, Rendered]) -> None:
    gpu = rendered_sets["gpu"]
    spec = pod_spec(gpu, "tts")
    tts = container(spec)
    assert tts["env"][-1] == {"name": "PYTORCH_CUDA_ALLOC_CONF", "value": "expandable_segments:True"}
    assert {"name": "voices", "configMap": {"name": "custom-voices"}} in spec["volumes"]
    assert {"name": "voices", "mountPath": "/opt/voices", "readOnly": True} in tts["volumeMounts"]
    assert spec["priorityClassName"] == "voice-critical"
    for component in COMPONENTS:
        labels = gpu.workload(component)["spec"]["template"]["metadata"]["labels"]
        assert labels["team"] == "voice"


def test_no_escape_hatches_by_default(defaults: Rendered) -> None:
    for component in COMPONENTS:
        spec = pod_spec(defaults, component)
        assert "priorityClassName" not in spec
        assert [volume["name"] for volume in spec["volumes"]] in (["tmp"], ["tmp", "model-cache"])


def test_pod_labels_never_override_the_chart_labels(helm: str) -> None:
    values = {"agent": {"podLabels": {"app.kubernetes.io/component": "tts", "tier": "edge"}}}
    labels = render(helm, values=values).workload("agent")["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/component"] == "agent"
    assert labels["tier"] == "edge"


def test_extra_env_entries_need_a_name(helm: str) -> None:
    with pytest.raises(HelmFailed, match="name is required"):
        render(helm, values={"agent": {"extraEnv": [{"value": "x"}]}})


# Smaller findings.


def test_empty_gpu_node_selector_removes_every_label(helm: str, rendered_sets: dict[str, Rendered]) -> None:
    assert "nodeSelector" not in pod_spec(rendered_sets["airgap"], "tts")
    rendered = render(helm, values={"tts": {"gpu": {"nodeSelector": {"nvidia.com/gpu.present": "true"}}}})
    assert pod_spec(rendered, "tts")["nodeSelector"] == {"nvidia.com/gpu.present": "true"}


def test_a_chart_version_bump_leaves_the_pods_alone(helm: str, tmp_path: Path, defaults: Rendered) -> None:
    bumped = tmp_path / "vibevoice"
    shutil.copytree(CHART, bumped)
    chart_yaml = bumped / "Chart.yaml"
    chart_yaml.write_text(
        re.sub(r"^version: .*$", "version: 9.9.9", chart_yaml.read_text(), flags=re.MULTILINE)
    )
    after = Rendered.parse(run_helm(helm, ["template", RELEASE, str(bumped), "--namespace", NAMESPACE]))
    for component in COMPONENTS:
        before_deployment = defaults.workload(component)
        after_deployment = after.workload(component)
        assert after_deployment["metadata"]["labels"] != before_deployment["metadata"]["labels"]
        assert after_deployment["spec"]["template"] == before_deployment["spec"]["template"]
        assert "helm.sh/chart" not in after_deployment["spec"]["template"]["metadata"]["labels"]


def test_grace_period_is_configurable_but_never_short(helm: str) -> None:
    rendered = render(helm, values={"agent": {"shutdown": {"terminationGracePeriodSeconds": 3600}}})
    assert pod_spec(rendered, "agent")["terminationGracePeriodSeconds"] == 3600
    shutdown = {"preStopSeconds": 5, "drainSeconds": 2, "graceSeconds": 900}
    fails(
        helm,
        {"agent": {"shutdown": {**shutdown, "terminationGracePeriodSeconds": 911}}},
        "terminationGracePeriodSeconds (911) is shorter than preStop + drain + grace + 5 (912)",
    )
    shutdown["drainSeconds"] = 30
    fails(
        helm,
        {"agent": {"shutdown": {**shutdown, "terminationGracePeriodSeconds": 912}}},
        "terminationGracePeriodSeconds (912) is shorter than preStop + drain + grace + 5 (940)",
    )


# Alerts and the dashboard.


def exported_metrics() -> set[str]:
    """The series names both services export (histogram buckets, counter totals, gauges)."""
    suffixes = {"histogram": ("_bucket", "_sum", "_count"), "counter": ("_total",), "gauge": ("",)}
    families: list[Metric] = [*TTSMetrics("espeak").registry.collect(), *AgentMetrics().registry.collect()]
    return {family.name + suffix for family in families for suffix in suffixes[family.type]}


def metric_names(text: str) -> set[str]:
    """The vibevoice_* series a PromQL text reads."""
    return set(re.findall(r"\bvibevoice_[a-z_]+", text))


def test_no_alerts_or_dashboard_by_default(defaults: Rendered) -> None:
    assert defaults.all("PrometheusRule") == []
    assert [m["metadata"]["name"] for m in defaults.all("ConfigMap")] == [
        f"{RELEASE}-vibevoice-tts",
        f"{RELEASE}-vibevoice-agent",
    ]


def test_alerts_on_latency_errors_and_queueing(rendered_sets: dict[str, Rendered]) -> None:
    (rule,) = rendered_sets["gpu"].all("PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    alerts = {alert["alert"]: alert for group in rule["spec"]["groups"] for alert in group["rules"]}
    assert set(alerts) == {
        "VibeVoiceTTSUnavailable",
        "VibeVoiceAgentUnavailable",
        "VibeVoiceTTSMetricsAbsent",
        "VibeVoiceAgentMetricsAbsent",
        "VibeVoiceTTSTimeToFirstAudioHigh",
        "VibeVoiceAgentTimeToFirstAudioHigh",
        "VibeVoiceTTSErrorRateHigh",
        "VibeVoiceAgentErrorRateHigh",
        "VibeVoiceTTSQueueing",
    }
    assert alerts["VibeVoiceTTSTimeToFirstAudioHigh"]["expr"].endswith("> 0.3")
    assert "histogram_quantile(0.95" in alerts["VibeVoiceTTSTimeToFirstAudioHigh"]["expr"]
    assert alerts["VibeVoiceTTSQueueing"]["expr"].endswith("> 4")
    assert (
        f'namespace="{NAMESPACE}", service="{RELEASE}-vibevoice-tts"'
        in alerts["VibeVoiceTTSQueueing"]["expr"]
    )
    used = set().union(*(metric_names(alert["expr"]) for alert in alerts.values()))
    assert used <= exported_metrics()
    assert {
        alert["for"] for name, alert in alerts.items() if "Unavailable" not in name and "Absent" not in name
    } == {"10m"}
    assert alerts["VibeVoiceTTSUnavailable"]["for"] == "5m"


def test_dashboard_reads_what_the_services_export(rendered_sets: dict[str, Rendered]) -> None:
    (configmap,) = [
        m for m in rendered_sets["gpu"].all("ConfigMap") if m["metadata"]["name"].endswith("-dashboard")
    ]
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(configmap["data"]["vibevoice.json"])
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    assert exprs
    assert all(f'namespace="{NAMESPACE}"' in expr for expr in exprs)
    used = set().union(*(metric_names(expr) for expr in exprs))
    assert {"vibevoice_tts_ttfa_seconds_bucket", "vibevoice_tts_queue_depth"} <= used <= exported_metrics()
