"""Every pod the chart makes is locked down, with every values set: non-root (uid 10001, or the platform's
where the values leave the ids out, as OpenShift's SCC assigns them), read-only root with an emptyDir
/tmp, no privilege escalation, no capabilities, seccomp RuntimeDefault, no API token, requests and limits;
the LLM API key only ever comes from an existing Secret."""

from __future__ import annotations

import pytest

from tests.chart.chart import VALUE_SETS, HelmFailed, Rendered, container, env_of, render

UID = 10001
# The values sets that leave the ids to the platform (OpenShift's restricted SCC).
PLATFORM_IDS = {"openshift"}


@pytest.mark.parametrize("name", VALUE_SETS)
def test_every_pod_is_locked_down(rendered_sets: dict[str, Rendered], name: str) -> None:
    pods = dict(rendered_sets[name].pod_specs())
    assert len(pods) == 3, sorted(pods)  # the two services and the helm test pod
    ids = {} if name in PLATFORM_IDS else {"runAsUser": UID, "runAsGroup": UID}
    for pod_name, spec in pods.items():
        pod_security = spec["securityContext"]
        assert pod_security["runAsNonRoot"] is True, pod_name
        assert {k: pod_security[k] for k in ("runAsUser", "runAsGroup", "fsGroup") if k in pod_security} == (
            ids and {**ids, "fsGroup": UID}
        ), pod_name
        assert pod_security["fsGroupChangePolicy"] == "OnRootMismatch", pod_name
        assert pod_security["seccompProfile"] == {"type": "RuntimeDefault"}, pod_name
        assert spec["automountServiceAccountToken"] is False, pod_name
        assert spec["enableServiceLinks"] is False, pod_name

        main = container(spec)
        security = main["securityContext"]
        assert security["runAsNonRoot"] is True, pod_name
        assert {k: security[k] for k in ("runAsUser", "runAsGroup") if k in security} == ids, pod_name
        assert security["readOnlyRootFilesystem"] is True, pod_name
        assert security["allowPrivilegeEscalation"] is False, pod_name
        assert security["privileged"] is False, pod_name
        assert security["capabilities"] == {"drop": ["ALL"]}, pod_name
        assert security["seccompProfile"] == {"type": "RuntimeDefault"}, pod_name

        mounts = {mount["mountPath"]: mount["name"] for mount in main["volumeMounts"]}
        volumes = {volume["name"]: volume for volume in spec["volumes"]}
        assert mounts["/tmp"] == "tmp", pod_name
        assert volumes["tmp"]["emptyDir"]["sizeLimit"], pod_name

        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(main["resources"][bound]), (pod_name, bound)


@pytest.mark.parametrize("name", VALUE_SETS)
def test_service_accounts_carry_no_token(rendered_sets: dict[str, Rendered], name: str) -> None:
    for account in rendered_sets[name].all("ServiceAccount"):
        assert account["automountServiceAccountToken"] is False


def test_the_api_key_comes_from_an_existing_secret(rendered_sets: dict[str, Rendered]) -> None:
    rendered = rendered_sets["gpu"]  # the values set with the openai backend
    agent = container(rendered.workload("agent")["spec"]["template"]["spec"])
    assert env_of(agent)["VIBEVOICE_AGENT_OPENAI_API_KEY"] == {
        "secretKeyRef": {"name": "vibevoice-openai", "key": "api-key"}
    }
    assert rendered.all("Secret") == [], "the chart never creates a Secret: it refers to an existing one"
    config = rendered.one("ConfigMap", "agent")["data"]
    assert not [key for key in config if "KEY" in key], config


def test_ids_are_overridable(helm: str) -> None:
    values = {"securityContext": {"runAsUser": 1000750000, "runAsGroup": 0, "fsGroup": 1000750000}}
    for _, spec in render(helm, values=values).pod_specs():
        assert spec["securityContext"]["runAsUser"] == 1000750000
        assert spec["securityContext"]["runAsGroup"] == 0
        assert spec["securityContext"]["fsGroup"] == 1000750000
        assert container(spec)["securityContext"]["runAsUser"] == 1000750000


def test_root_is_refused(helm: str) -> None:
    with pytest.raises(HelmFailed, match=r"securityContext\.runAsUser: Must be greater than or equal to 1"):
        render(helm, values={"securityContext": {"runAsUser": 0}})
