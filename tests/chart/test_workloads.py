"""What the services' pods are told: probes, the GPU request and the CPU switch, graceful shutdown,
configuration and its checksum, images, Services and the URL the agent finds the TTS at."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.chart.chart import (
    CHART,
    COMPONENTS,
    RELEASE,
    VALUE_SETS,
    HelmFailed,
    Manifest,
    Rendered,
    container,
    env_of,
    render,
)

PORTS = {"tts": 8000, "agent": 8080}
APP_VERSION = yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]


def pod_spec(rendered: Rendered, component: str) -> Manifest:
    """The pod template spec of a component's Deployment."""
    return rendered.workload(component)["spec"]["template"]["spec"]


@pytest.mark.parametrize("component", COMPONENTS)
@pytest.mark.parametrize("name", VALUE_SETS)
def test_startup_and_liveness_ask_the_pod_readiness_the_dependencies(
    rendered_sets: dict[str, Rendered], name: str, component: str
) -> None:
    """Startup and liveness never wait on the model (/health); readiness asks /ready, which for the agent
    is its own state (its TTS's is in the body only), so a TTS outage leaves the agents in their Service."""
    main = container(pod_spec(rendered_sets[name], component))
    assert main["ports"] == [{"name": "http", "containerPort": PORTS[component], "protocol": "TCP"}]
    paths = {kind: main[kind]["httpGet"] for kind in ("startupProbe", "readinessProbe", "livenessProbe")}
    assert paths == {
        "startupProbe": {"path": "/health", "port": "http"},
        "readinessProbe": {"path": "/ready", "port": "http"},
        "livenessProbe": {"path": "/health", "port": "http"},
    }


def test_gpu_variant_requests_a_gpu_and_waits_for_the_model(defaults: Rendered) -> None:
    spec = pod_spec(defaults, "tts")
    tts = container(spec)
    assert tts["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert "nvidia.com/gpu" not in tts["resources"]["requests"]
    # no RuntimeClass by default: one that does not exist (GPU pools without the GPU Operator) would make
    # admission reject every TTS pod
    assert "runtimeClassName" not in spec
    # the GPU limit alone confines the pod to GPU nodes: no label is required of them by default
    assert "nodeSelector" not in spec
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec["tolerations"]
    config = defaults.one("ConfigMap", "tts")["data"]
    assert config["VIBEVOICE_TTS_ENGINE"] == "vibevoice"
    assert config["VIBEVOICE_TTS_DEVICE"] == "cuda"
    assert config["VIBEVOICE_TTS_MODEL"] == "microsoft/VibeVoice-Realtime-0.5B"
    assert config["HF_HUB_OFFLINE"] == "1"
    # the service reads the weights from the cache volume; only the init container writes there
    mount = {"name": "model-cache", "mountPath": config["HF_HOME"], "readOnly": True}
    assert mount in tts["volumeMounts"]


def test_cpu_variant_has_no_gpu_settings(cpu: Rendered, defaults: Rendered) -> None:
    spec = pod_spec(cpu, "tts")
    tts = container(spec)
    assert not [key for key in tts["resources"]["limits"] if "gpu" in key]
    for key in ("runtimeClassName", "nodeSelector", "tolerations"):
        assert key not in spec
    assert [volume["name"] for volume in spec["volumes"]] == ["tmp"]
    assert "initContainers" not in spec
    assert cpu.all("PersistentVolumeClaim") == []
    config = cpu.one("ConfigMap", "tts")["data"]
    assert config["VIBEVOICE_TTS_ENGINE"] == "espeak"
    assert not {"VIBEVOICE_TTS_DEVICE", "VIBEVOICE_TTS_MODEL", "HF_HOME", "HF_HUB_OFFLINE"} & set(config)
    assert "nvidia" not in str(defaults.workload("agent"))


def test_gpu_settings_merge_with_the_pod_settings(rendered_sets: dict[str, Rendered]) -> None:
    spec = pod_spec(rendered_sets["gpu"], "tts")
    # one device and one generation at a time: one GPU per pod, concurrency 1
    assert container(spec)["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert rendered_sets["gpu"].one("ConfigMap", "tts")["data"]["VIBEVOICE_TTS_MAX_CONCURRENCY"] == "1"
    assert spec["runtimeClassName"] == "nvidia-cdi"
    # zones by spreading, not a hard single-zone selector
    assert spec["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-L4"}
    (spread,) = spec["topologySpreadConstraints"]
    assert spread["topologyKey"] == "topology.kubernetes.io/zone"
    assert (
        spread["labelSelector"]["matchLabels"]
        == (rendered_sets["gpu"].workload("tts")["spec"]["selector"]["matchLabels"])
    )
    assert [toleration["key"] for toleration in spec["tolerations"]] == ["nvidia.com/gpu", "dedicated"]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"tts": {"gpu": {"count": None}}}, "tts.gpu.count is required when tts.gpu.enabled"),
        ({"tts": {"gpu": {"resourceName": None}}}, "tts.gpu.resourceName is required when tts.gpu.enabled"),
        ({"tts": {"gpu": {"model": None}}}, "tts.gpu.model is required when tts.gpu.enabled"),
        (
            {"agent": {"llm": {"openai": {"baseUrl": ""}}}},
            "agent.llm.openai.baseUrl is required with backend openai",
        ),
        (
            {"agent": {"llm": {"openai": {"model": ""}}}},
            "agent.llm.openai.model is required with backend openai",
        ),
        (
            {
                "tts": {
                    "gpu": {"enabled": False},
                    "autoscaling": {"enabled": True, "minReplicas": 5, "maxReplicas": 2},
                }
            },
            "tts.autoscaling.minReplicas (5) exceeds maxReplicas (2)",
        ),
    ],
)
def test_missing_mandatory_settings_fail_loudly(helm: str, values: dict[str, Any], message: str) -> None:
    with pytest.raises(HelmFailed, match=message.replace("(", r"\(").replace(")", r"\)")):
        render(helm, values=values)


def test_gpu_settings_are_not_required_on_cpu(helm: str) -> None:
    rendered = render(helm, values={"tts": {"gpu": {"enabled": False, "count": None, "resourceName": None}}})
    assert rendered.one("ConfigMap", "tts")["data"]["VIBEVOICE_TTS_ENGINE"] == "espeak"


@pytest.mark.parametrize(
    ("name", "component", "pause", "grace"),
    [
        ("defaults", "tts", 5, 310),
        ("defaults", "agent", 5, 912),
        ("cpu", "agent", 5, 17),
        ("gpu", "tts", 5, 600),
    ],
)
def test_shutdown_pause_and_grace_period(
    rendered_sets: dict[str, Rendered], name: str, component: str, pause: int, grace: int
) -> None:
    spec = pod_spec(rendered_sets[name], component)
    assert container(spec)["lifecycle"] == {"preStop": {"sleep": {"seconds": pause}}}
    assert spec["terminationGracePeriodSeconds"] == grace


def test_grace_period_covers_pause_drain_and_in_flight_streams(helm: str) -> None:
    shutdown = {"preStopSeconds": 7, "drainSeconds": 3, "graceSeconds": 20}
    rendered = render(helm, values={"tts": {"shutdown": shutdown}})
    spec = pod_spec(rendered, "tts")
    assert spec["terminationGracePeriodSeconds"] == 7 + 3 + 20 + 5
    assert container(spec)["lifecycle"]["preStop"]["sleep"]["seconds"] == 7
    config = rendered.one("ConfigMap", "tts")["data"]
    assert (config["VIBEVOICE_TTS_DRAIN_S"], config["VIBEVOICE_TTS_GRACE_S"]) == ("3", "20")


def checksums(rendered: Rendered) -> dict[str, str]:
    """The config checksum annotation of each component's pods."""
    return {
        component: rendered.workload(component)["spec"]["template"]["metadata"]["annotations"][
            "checksum/config"
        ]
        for component in COMPONENTS
    }


def test_config_change_rolls_only_the_pods_it_concerns(helm: str, cpu: Rendered) -> None:
    base = checksums(cpu)
    assert checksums(render(helm, VALUE_SETS["cpu"], {"tts": {"replicaCount": 3}})) == base
    tts_changed = checksums(render(helm, VALUE_SETS["cpu"], {"tts": {"maxQueue": 3}}))
    assert tts_changed["tts"] != base["tts"]
    assert tts_changed["agent"] == base["agent"]
    agent_changed = checksums(render(helm, VALUE_SETS["cpu"], {"agent": {"logLevel": "debug"}}))
    assert agent_changed["agent"] != base["agent"]
    assert agent_changed["tts"] == base["tts"]


def images(rendered: Rendered) -> dict[str, str]:
    """The image of the TTS, the agent and the helm test pod."""
    return {name: container(spec)["image"] for name, spec in rendered.pod_specs()}


def test_images_by_tag_by_default(defaults: Rendered, cpu: Rendered) -> None:
    """The GPU defaults run the CUDA build; the CPU variant the CPU build; the test pod the agent's."""
    assert images(defaults) == {
        f"Deployment/{RELEASE}-vibevoice-tts": f"vibevoice-tts:{APP_VERSION}-cuda",
        f"Deployment/{RELEASE}-vibevoice-agent": f"vibevoice-agent:{APP_VERSION}",
        f"Pod/{RELEASE}-vibevoice-test": f"vibevoice-agent:{APP_VERSION}",
    }
    assert images(cpu)[f"Deployment/{RELEASE}-vibevoice-tts"] == f"vibevoice-tts:{APP_VERSION}"


def test_images_by_digest_win_over_tags(rendered_sets: dict[str, Rendered], helm: str) -> None:
    digest = "sha256:" + "ab" * 32
    cpu_values = {"tts": {"gpu": {"enabled": False}, "image": {"tag": "9.9", "digest": digest}}}
    rendered = render(helm, values=cpu_values)
    assert images(rendered)[f"Deployment/{RELEASE}-vibevoice-tts"] == f"vibevoice-tts@{digest}"
    gpu = images(rendered_sets["gpu"])
    assert gpu[f"Deployment/{RELEASE}-vibevoice-tts"] == (
        "registry.example.com/voice/vibevoice-tts@sha256:" + "abcdef0123456789" * 4
    )
    assert gpu[f"Deployment/{RELEASE}-vibevoice-agent"].startswith(
        "registry.example.com/voice/vibevoice-agent@sha256:fedcba98"
    )
    # the helm test pod runs the agent image (small, any node), whichever way it is named
    assert gpu[f"Pod/{RELEASE}-vibevoice-test"] == gpu[f"Deployment/{RELEASE}-vibevoice-agent"]


def test_images_by_explicit_tag(rendered_sets: dict[str, Rendered]) -> None:
    assert set(images(rendered_sets["minimal"]).values()) == {"vibevoice-tts:1.2.3", "vibevoice-agent:1.2.3"}
    airgap = images(rendered_sets["airgap"])
    assert airgap[f"Deployment/{RELEASE}-vibevoice-tts"] == "registry.internal:5000/vibevoice-tts-cuda:0.1.0"


@pytest.mark.parametrize("component", COMPONENTS)
def test_services_listen_on_all_interfaces(defaults: Rendered, component: str) -> None:
    env = env_of(container(pod_spec(defaults, component)))
    prefix = f"VIBEVOICE_{component.upper()}"
    assert env[f"{prefix}_HOST"] == "0.0.0.0"
    assert env[f"{prefix}_PORT"] == str(PORTS[component])


def test_agent_finds_the_tts_service(helm: str) -> None:
    rendered = render(helm, values={"tts": {"service": {"port": 9000}}})
    tts_service = rendered.one("Service", "tts")
    assert tts_service["spec"]["ports"] == [
        {"name": "http", "port": 9000, "targetPort": "http", "protocol": "TCP"}
    ]
    url = rendered.one("ConfigMap", "agent")["data"]["VIBEVOICE_AGENT_TTS_URL"]
    assert url == f"http://{tts_service['metadata']['name']}:9000"


@pytest.mark.parametrize("component", COMPONENTS)
def test_services_select_their_own_pods(defaults: Rendered, component: str) -> None:
    selector = defaults.one("Service", component)["spec"]["selector"]
    for candidate in COMPONENTS:
        labels = defaults.workload(candidate)["spec"]["template"]["metadata"]["labels"]
        assert (selector.items() <= labels.items()) == (candidate == component)


def test_the_default_llm_is_an_openai_compatible_server(defaults: Rendered, cpu: Rendered) -> None:
    """The production defaults name a server, a model and the Secret of its key; CI chooses scripted."""
    config = defaults.one("ConfigMap", "agent")["data"]
    assert config["VIBEVOICE_AGENT_LLM"] == "openai"
    assert config["VIBEVOICE_AGENT_OPENAI_BASE_URL"] == "https://api.openai.com/v1"
    assert config["VIBEVOICE_AGENT_OPENAI_MODEL"] == "gpt-4o-mini"
    agent = container(defaults.workload("agent")["spec"]["template"]["spec"])
    assert env_of(agent)["VIBEVOICE_AGENT_OPENAI_API_KEY"] == {
        "secretKeyRef": {"name": f"{RELEASE}-vibevoice-llm", "key": "api-key"}
    }
    assert cpu.one("ConfigMap", "agent")["data"]["VIBEVOICE_AGENT_LLM"] == "scripted"
    assert "VIBEVOICE_AGENT_OPENAI_API_KEY" not in env_of(
        container(cpu.workload("agent")["spec"]["template"]["spec"])
    )


def test_openai_backend_settings(rendered_sets: dict[str, Rendered]) -> None:
    config = rendered_sets["gpu"].one("ConfigMap", "agent")["data"]
    assert config["VIBEVOICE_AGENT_LLM"] == "openai"
    assert config["VIBEVOICE_AGENT_OPENAI_BASE_URL"] == "https://api.openai.com/v1"
    assert config["VIBEVOICE_AGENT_OPENAI_MODEL"] == "gpt-4o-mini"
