"""The public edge and sessions: an HTTPRoute (Gateway API) as the first-class edge, with its timeouts in
the route and session persistence on the agent's rule; the Ingress generic (only the annotations the
values give); the agent's Service without client-address affinity unless asked; the TTS admitting the
edge's proxies only when a path leads to it. No custom resource schema is available offline, so the
route is checked against the Services it must reach."""

from __future__ import annotations

from typing import Any

import pytest

from tests.chart.chart import COMPONENTS, RELEASE, HelmFailed, Manifest, Rendered, render


def route(rendered: Rendered) -> Manifest:
    """The one HTTPRoute."""
    (found,) = rendered.all("HTTPRoute")
    return found


def test_no_edge_by_default(defaults: Rendered) -> None:
    assert not {"HTTPRoute", "Ingress"} & set(defaults.kinds())


def test_route_leads_each_path_to_its_service_with_the_timeouts(rendered_sets: dict[str, Rendered]) -> None:
    gpu = rendered_sets["gpu"]
    found = route(gpu)
    assert found["apiVersion"] == "gateway.networking.k8s.io/v1"
    spec = found["spec"]
    assert spec["parentRefs"] == [{"name": "public", "namespace": "gateway-system", "sectionName": "https"}]
    assert spec["hostnames"] == ["voice.example.com"]
    services = {service["metadata"]["name"]: service for service in gpu.all("Service")}
    targets = {}
    for rule in spec["rules"]:
        ((match,), (backend,)) = (rule["matches"], rule["backendRefs"])
        assert match["path"]["type"] == "PathPrefix"
        assert rule["timeouts"] == {"request": "7200s", "backendRequest": "7200s"}
        assert backend["port"] in [port["port"] for port in services[backend["name"]]["spec"]["ports"]]
        targets[match["path"]["value"]] = services[backend["name"]]["metadata"]["labels"][
            "app.kubernetes.io/component"
        ]
    assert targets == {"/v1/agent": "agent", "/v1/audio": "tts"}
    persistence = {r["matches"][0]["path"]["value"]: r.get("sessionPersistence") for r in spec["rules"]}
    assert persistence == {
        "/v1/agent": {"sessionName": "vibevoice-session", "type": "Cookie"},
        "/v1/audio": None,
    }


@pytest.mark.parametrize(
    "values",
    [
        {"gateway": {"sessionPersistence": None}},
        {"agent": {"replicaCount": 1, "sessionAffinity": {"enabled": False}}},
    ],
)
def test_route_without_session_persistence(helm: str, values: dict[str, Any]) -> None:
    gateway = {"enabled": True, "parentRefs": [{"name": "eg"}], **values.get("gateway", {})}
    (rule,) = route(render(helm, values={**values, "gateway": gateway}))["spec"]["rules"]
    assert "sessionPersistence" not in rule


def test_route_needs_a_gateway(helm: str) -> None:
    with pytest.raises(HelmFailed, match=r"gateway\.parentRefs must name the Gateway"):
        render(helm, values={"gateway": {"enabled": True}})


@pytest.mark.parametrize("path", ["/", "/metrics", "/health"])
def test_route_publishes_only_the_apis(helm: str, path: str) -> None:
    gateway = {
        "enabled": True,
        "parentRefs": [{"name": "eg"}],
        "paths": [{"path": path, "component": "agent"}],
    }
    with pytest.raises(HelmFailed, match=r"gateway\.paths\.0\.path: Does not match pattern"):
        render(helm, values={"gateway": gateway})


def test_ingress_carries_only_the_annotations_given(rendered_sets: dict[str, Rendered], helm: str) -> None:
    """No controller's annotations of the chart's own (ingress-nginx's meant nothing to the others), and
    nothing hashes on the client address."""
    openshift = rendered_sets["openshift"]
    (ingress,) = openshift.all("Ingress")  # the agent's path only
    assert ingress["metadata"]["annotations"] == {
        "haproxy.router.openshift.io/timeout": "3600s",
        "haproxy.router.openshift.io/disable_cookies": "false",
        "router.openshift.io/cookie_name": "vibevoice-session",
    }
    assert ingress["spec"]["ingressClassName"] == "openshift-default"
    assert ingress["spec"]["tls"] == [
        {"hosts": ["voice.apps.example.com"], "secretName": "voice-apps-example-com-tls"}
    ]
    (rule,) = ingress["spec"]["rules"]
    assert rule["http"]["paths"] == [
        {
            "path": "/v1/agent",
            "pathType": "Prefix",
            "backend": {"service": {"name": f"{RELEASE}-vibevoice-agent", "port": {"name": "http"}}},
        }
    ]
    plain = render(helm, values={"ingress": {"enabled": True}}).all("Ingress")[0]
    assert "annotations" not in plain["metadata"]
    assert "ingressClassName" not in plain["spec"]  # the cluster's default class
    for name, rendered in rendered_sets.items():
        for manifest in rendered.manifests:
            assert "remote_addr" not in str(manifest), name


def test_agent_service_pins_client_addresses_only_when_asked(defaults: Rendered, helm: str) -> None:
    """In-cluster callers: ClientIP would put every session of one caller on one agent pod."""
    for component in COMPONENTS:
        assert "sessionAffinity" not in defaults.one("Service", component)["spec"]
    pinned = render(helm, values={"agent": {"sessionAffinity": {"clientIP": True, "timeoutSeconds": 600}}})
    spec = pinned.one("Service", "agent")["spec"]
    assert spec["sessionAffinity"] == "ClientIP"
    assert spec["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 600}}
    assert "sessionAffinity" not in pinned.one("Service", "tts")["spec"]


def tts_sources(rendered: Rendered) -> list[list[Manifest]]:
    """The `from` peers of each ingress rule of the TTS's NetworkPolicy."""
    return [rule["from"] for rule in rendered.one("NetworkPolicy", "tts")["spec"]["ingress"]]


EDGE = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "envoy-gateway-system"}}}]


def test_tts_admits_the_edge_only_when_a_path_leads_to_it(
    rendered_sets: dict[str, Rendered], helm: str
) -> None:
    assert tts_sources(rendered_sets["gpu"])[-1] == EDGE  # its route leads /v1/audio to the TTS
    agent_only = {
        "gateway": {"enabled": True, "parentRefs": [{"name": "eg"}]},
        "networkPolicy": {"edgeProxies": EDGE},
    }
    assert EDGE not in tts_sources(render(helm, values=agent_only))
    assert EDGE not in tts_sources(rendered_sets["openshift"])  # its Ingress leads to the agent alone


@pytest.mark.parametrize("edge", ["gateway", "ingress"])
def test_exposed_tts_with_no_edge_peers_fails(helm: str, edge: str) -> None:
    """An empty `from` would admit every source, so the chart refuses to render one."""
    path = {"path": "/v1/audio", "component": "tts"} | ({"pathType": "Prefix"} if edge == "ingress" else {})
    values: dict[str, Any] = {edge: {"enabled": True, "parentRefs": [{"name": "eg"}], "paths": [path]}}
    if edge == "ingress":
        del values[edge]["parentRefs"]
    with pytest.raises(HelmFailed, match=r"networkPolicy\.edgeProxies must name the Gateway's proxies"):
        render(helm, values=values)
