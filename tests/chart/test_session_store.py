"""The agents' session store, both sides of the toggle: without one, histories stay in each pod (and
several pods need session affinity); with one, each agent gets the store's URL from the Secret that
holds it, may reach it through its NetworkPolicy, and needs no affinity."""

from __future__ import annotations

from typing import Any

import pytest

from tests.chart.chart import HelmFailed, Rendered, container, env_of, render

STORE_PEER = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "redis"}}}
STORE: dict[str, Any] = {
    "agent": {"sessionStore": {"urlSecret": {"name": "agent-redis", "key": "redis-url"}, "ttlSeconds": 600}},
    "networkPolicy": {"sessionStoreEgress": {"peers": [STORE_PEER], "ports": [6380]}},
}


def agent_env(rendered: Rendered) -> dict[str, Any]:
    return env_of(container(rendered.workload("agent")["spec"]["template"]["spec"]))


def store_egress(rendered: Rendered) -> list[dict[str, Any]]:
    """The agent's egress rules that lead to the store's port."""
    egress = rendered.one("NetworkPolicy", "agent")["spec"]["egress"]
    return [rule for rule in egress if {"port": 6380, "protocol": "TCP"} in rule.get("ports", [])]


def test_no_store_by_default(defaults: Rendered) -> None:
    assert "VIBEVOICE_AGENT_SESSION_STORE_URL" not in agent_env(defaults)
    config = defaults.one("ConfigMap", "agent")["data"]
    assert config["VIBEVOICE_AGENT_SESSION_TTL_S"] == "3600"  # the TTL holds for memory too
    assert "VIBEVOICE_AGENT_SESSION_STORE_TIMEOUT_S" not in config
    ports = [
        port for rule in defaults.one("NetworkPolicy", "agent")["spec"]["egress"] for port in rule["ports"]
    ]
    assert {"port": 6379, "protocol": "TCP"} not in ports


def test_a_store_is_reached_by_its_url_from_a_secret_through_the_network_policy(helm: str) -> None:
    rendered = render(helm, values=STORE)
    assert agent_env(rendered)["VIBEVOICE_AGENT_SESSION_STORE_URL"] == {
        "secretKeyRef": {"name": "agent-redis", "key": "redis-url"}
    }
    config = rendered.one("ConfigMap", "agent")["data"]
    assert (config["VIBEVOICE_AGENT_SESSION_TTL_S"], config["VIBEVOICE_AGENT_SESSION_STORE_TIMEOUT_S"]) == (
        "600",
        "0.5",
    )
    assert store_egress(rendered) == [{"to": [STORE_PEER], "ports": [{"port": 6380, "protocol": "TCP"}]}]
    assert "VIBEVOICE_AGENT_SESSION_STORE_URL" not in env_of(
        container(rendered.workload("tts")["spec"]["template"]["spec"])
    )


def test_the_stores_password_may_come_from_a_secret_of_its_own(helm: str, defaults: Rendered) -> None:
    password = {"passwordSecret": {"name": "redis-auth", "key": "redis-password"}}
    rendered = render(
        helm, values={**STORE, "agent": {"sessionStore": {**STORE["agent"]["sessionStore"], **password}}}
    )
    assert agent_env(rendered)["VIBEVOICE_AGENT_SESSION_STORE_PASSWORD"] == {
        "secretKeyRef": {"name": "redis-auth", "key": "redis-password"}
    }
    assert "VIBEVOICE_AGENT_SESSION_STORE_PASSWORD" not in agent_env(render(helm, values=STORE))
    # a password with no store to use it on is not passed
    alone = render(helm, values={"agent": {"sessionStore": password}})
    assert "VIBEVOICE_AGENT_SESSION_STORE_PASSWORD" not in agent_env(alone)
    assert "VIBEVOICE_AGENT_SESSION_STORE_PASSWORD" not in agent_env(defaults)


def test_a_store_needs_a_way_through_the_network_policy(helm: str) -> None:
    values = {"agent": STORE["agent"]}
    with pytest.raises(HelmFailed, match=r"networkPolicy\.sessionStoreEgress needs ipBlocks or peers"):
        render(helm, values=values)
    unpoliced = render(helm, values={**values, "networkPolicy": {"enabled": False}})
    assert unpoliced.all("NetworkPolicy") == []
    assert "VIBEVOICE_AGENT_SESSION_STORE_URL" in agent_env(unpoliced)


@pytest.mark.parametrize("replicas", [{"replicaCount": 3}, {"autoscaling": {"enabled": True}}])
def test_several_agent_pods_need_affinity_only_without_a_store(helm: str, replicas: dict[str, Any]) -> None:
    agent = {**replicas, "sessionAffinity": {"enabled": False}}
    with pytest.raises(HelmFailed, match="or give the pods a session store"):
        render(helm, values={"agent": agent})
    rendered = render(helm, values={**STORE, "agent": {**agent, **STORE["agent"]}})
    assert "VIBEVOICE_AGENT_SESSION_STORE_URL" in agent_env(rendered)
