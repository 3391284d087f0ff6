"""Both sides of every toggle: disabled renders nothing, enabled renders exactly this."""

from __future__ import annotations

from typing import Any

import pytest

from tests.chart.chart import COMPONENTS, RELEASE, VALUE_SETS, HelmFailed, Manifest, Rendered, render

OPTIONAL_KINDS = (
    "PodDisruptionBudget",
    "HorizontalPodAutoscaler",
    "ServiceMonitor",
    "Ingress",
    "HTTPRoute",
    "ScaledObject",
    "StatefulSet",
    "NetworkPolicy",
    "PrometheusRule",
)


def pod_labels(rendered: Rendered, component: str) -> dict[str, str]:
    """The labels of a component's pods (the helm test pod's for "test")."""
    if component == "test":
        return rendered.all("Pod")[0]["metadata"]["labels"]
    return rendered.workload(component)["spec"]["template"]["metadata"]["labels"]


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    """Whether a matchLabels selector picks pods with `labels`."""
    return selector.items() <= labels.items()


def test_minimal_values_render_no_optional_part(rendered_sets: dict[str, Rendered]) -> None:
    minimal = rendered_sets["minimal"]
    assert not set(OPTIONAL_KINDS) & set(minimal.kinds()), minimal.kinds()
    assert minimal.all("ServiceAccount") == []
    assert sorted(minimal.kinds()) == sorted(
        ["ConfigMap"] * 2 + ["Service"] * 2 + ["Deployment"] * 2 + ["Pod"]
    )


def test_pdbs_on_by_default(defaults: Rendered) -> None:
    for component in COMPONENTS:
        budget = defaults.one("PodDisruptionBudget", component)["spec"]
        assert budget["maxUnavailable"] == 1
        assert selects(budget["selector"]["matchLabels"], pod_labels(defaults, component))
        other = "agent" if component == "tts" else "tts"
        assert not selects(budget["selector"]["matchLabels"], pod_labels(defaults, other))


def test_pdb_percentage(rendered_sets: dict[str, Rendered]) -> None:
    assert rendered_sets["gpu"].one("PodDisruptionBudget", "agent")["spec"]["maxUnavailable"] == "25%"


def test_no_autoscaler_by_default_and_replicas_fixed(defaults: Rendered) -> None:
    assert defaults.all("HorizontalPodAutoscaler") == []
    assert defaults.workload("tts")["spec"]["replicas"] == 1
    assert defaults.workload("agent")["spec"]["replicas"] == 2


def test_autoscalers_own_the_replica_count(rendered_sets: dict[str, Rendered]) -> None:
    gpu = rendered_sets["gpu"]
    for component, bounds in (("tts", (2, 6, 60)), ("agent", (2, 20, 70))):
        deployment = gpu.workload(component)
        assert "replicas" not in deployment["spec"]
        spec = gpu.one("HorizontalPodAutoscaler", component)["spec"]
        assert spec["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": deployment["metadata"]["name"],
        }
        target = spec["metrics"][0]["resource"]
        assert (spec["minReplicas"], spec["maxReplicas"], target["target"]["averageUtilization"]) == bounds
        assert target["name"] == "cpu"


def test_no_service_monitor_by_default(defaults: Rendered) -> None:
    assert defaults.all("ServiceMonitor") == []


@pytest.mark.parametrize("component", COMPONENTS)
def test_service_monitors_scrape_metrics_of_each_service(
    rendered_sets: dict[str, Rendered], component: str
) -> None:
    """There is no offline schema for ServiceMonitor: check it against the Service it must find."""
    gpu = rendered_sets["gpu"]
    monitor = gpu.one("ServiceMonitor", component)
    service = gpu.one("Service", component)
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert set(monitor["spec"]) == {"selector", "endpoints"}
    assert selects(monitor["spec"]["selector"]["matchLabels"], service["metadata"]["labels"])
    other = gpu.one("Service", "agent" if component == "tts" else "tts")
    assert not selects(monitor["spec"]["selector"]["matchLabels"], other["metadata"]["labels"])
    service_ports = {port["name"] for port in service["spec"]["ports"]}
    assert monitor["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "15s"}]
    assert "http" in service_ports


def policy(rendered: Rendered, component: str) -> Manifest:
    """A component's NetworkPolicy."""
    return rendered.one("NetworkPolicy", component)["spec"]


def test_no_network_policy_when_disabled(rendered_sets: dict[str, Rendered]) -> None:
    assert rendered_sets["minimal"].all("NetworkPolicy") == []


@pytest.mark.parametrize("name", ["defaults", "cpu"])
def test_tts_ingress_only_from_agent_test_pod_and_scrapers(
    rendered_sets: dict[str, Rendered], name: str
) -> None:
    rendered = rendered_sets[name]
    spec = policy(rendered, "tts")
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert selects(spec["podSelector"]["matchLabels"], pod_labels(rendered, "tts"))
    callers, scrapers = spec["ingress"]
    allowed = [peer["podSelector"]["matchLabels"] for peer in callers["from"]]
    for component, admitted in (("agent", True), ("test", True), ("tts", False)):
        assert any(selects(selector, pod_labels(rendered, component)) for selector in allowed) == admitted
    assert scrapers["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    ]
    for rule in spec["ingress"]:
        assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]


def test_no_scraper_rule_without_scrapers(helm: str) -> None:
    rendered = render(helm, values={"networkPolicy": {"metricsScrapers": []}})
    assert len(policy(rendered, "tts")["ingress"]) == 1


DNS_PORTS = [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]


def test_agent_egress_to_tts_and_dns_only_with_the_scripted_llm(cpu: Rendered) -> None:
    defaults = cpu
    spec = policy(cpu, "agent")
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert spec["ingress"] == [{"ports": [{"port": "http", "protocol": "TCP"}]}]
    tts, dns = spec["egress"]
    assert selects(tts["to"][0]["podSelector"]["matchLabels"], pod_labels(defaults, "tts"))
    assert tts["ports"] == [{"port": 8000, "protocol": "TCP"}]
    # port 53 to any address: kube-dns, or NodeLocal DNSCache on its link-local node address
    assert dns == {"ports": DNS_PORTS}


def test_tts_egress_to_dns_and_only_the_hub_when_it_downloads(
    defaults: Rendered, rendered_sets: dict[str, Rendered]
) -> None:
    """The service reaches nothing; the init container that fetches the model reaches the Hub (port 443,
    the internet without the cluster's ranges), and a TTS that fetches nothing only DNS."""
    dns, hub = policy(defaults, "tts")["egress"]
    assert dns == {"ports": DNS_PORTS}
    assert hub["ports"] == [{"port": 443, "protocol": "TCP"}]
    assert [peer["ipBlock"]["cidr"] for peer in hub["to"]] == ["0.0.0.0/0", "::/0"]
    assert "100.64.0.0/10" in hub["to"][0]["ipBlock"]["except"]
    for name in ("cpu", "airgap"):  # espeak-ng; weights already on the volume (mode local)
        assert [rule.get("to") for rule in policy(rendered_sets[name], "tts")["egress"]] == [None], name


def test_dns_egress_to_configured_peers(rendered_sets: dict[str, Rendered]) -> None:
    dns = policy(rendered_sets["gpu"], "agent")["egress"][1]
    assert dns["ports"] == DNS_PORTS
    assert dns["to"][0] == {"ipBlock": {"cidr": "169.254.20.10/32"}}
    assert dns["to"][1]["podSelector"] == {"matchLabels": {"k8s-app": "kube-dns"}}


def test_agent_egress_to_the_llm_endpoint_with_openai(rendered_sets: dict[str, Rendered]) -> None:
    egress = policy(rendered_sets["gpu"], "agent")["egress"]
    assert len(egress) == 3
    llm = egress[2]
    assert llm["to"] == [
        {
            "ipBlock": {
                "cidr": "0.0.0.0/0",
                "except": [
                    "10.0.0.0/8",
                    "100.64.0.0/10",
                    "172.16.0.0/12",
                    "192.168.0.0/16",
                    "169.254.0.0/16",
                ],
            }
        },
        # the cluster's global IPv6 pod and service ranges (networkPolicy.clusterNetworks) are kept out
        {
            "ipBlock": {
                "cidr": "::/0",
                "except": ["fc00::/7", "fe80::/10", "2001:db8:42::/56", "2001:db8:43::/112"],
            }
        },
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "vllm"}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "vllm"}},
        },
    ]
    assert llm["ports"] == [{"port": 443, "protocol": "TCP"}, {"port": 8000, "protocol": "TCP"}]


def test_default_llm_egress_covers_ipv4_and_ipv6(helm: str) -> None:
    values: dict[str, Any] = {
        "agent": {
            "llm": {
                "backend": "openai",
                "openai": {"baseUrl": "https://llm.example/v1", "model": "m", "apiKeySecret": {"name": "s"}},
            }
        }
    }
    llm = policy(render(helm, values=values), "agent")["egress"][2]
    assert [peer["ipBlock"]["cidr"] for peer in llm["to"]] == ["0.0.0.0/0", "::/0"]
    # carrier-grade NAT space, which some clusters give their pods, is not "the internet"
    assert "100.64.0.0/10" in llm["to"][0]["ipBlock"]["except"]
    # the cluster's own ranges go where their family's whole-family block is, and nowhere else
    narrow = {"cidr": "203.0.113.0/24"}
    values["networkPolicy"] = {
        "clusterNetworks": ["10.244.0.0/16", "2001:db8::/56"],
        "llmEgress": {
            "ipBlocks": [narrow, {"cidr": "::/0"}, {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}]
        },
    }
    blocks = [peer["ipBlock"] for peer in policy(render(helm, values=values), "agent")["egress"][2]["to"]]
    assert blocks == [
        narrow,
        {"cidr": "::/0", "except": ["2001:db8::/56"]},
        {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "10.244.0.0/16"]},
    ]
    in_cluster = {"podSelector": {"matchLabels": {"app": "vllm"}}}
    values["networkPolicy"] = {"llmEgress": {"ipBlocks": [], "peers": [in_cluster]}}
    assert policy(render(helm, values=values), "agent")["egress"][2]["to"] == [in_cluster]
    values["networkPolicy"] = {"llmEgress": {"ipBlocks": [], "peers": []}}
    with pytest.raises(HelmFailed, match=r"networkPolicy\.llmEgress needs ipBlocks or peers"):
        render(helm, values=values)


def test_service_accounts_created_and_used(defaults: Rendered, rendered_sets: dict[str, Rendered]) -> None:
    for component in COMPONENTS:
        account = defaults.one("ServiceAccount", component)["metadata"]["name"]
        spec = defaults.workload(component)["spec"]["template"]["spec"]
        assert spec["serviceAccountName"] == account == f"{RELEASE}-vibevoice-{component}"
    minimal = rendered_sets["minimal"]
    used = {c: minimal.workload(c)["spec"]["template"]["spec"]["serviceAccountName"] for c in COMPONENTS}
    assert used == {"tts": "voice-runtime", "agent": "default"}


@pytest.mark.parametrize("kind", OPTIONAL_KINDS)
def test_each_optional_kind_appears_in_some_ci_values_file(
    rendered_sets: dict[str, Rendered], kind: str
) -> None:
    """The ci values files between them render every optional part (chart-testing exercises them all)."""
    assert any(kind in rendered_sets[name].kinds() for name in VALUE_SETS if name != "defaults")
