"""What the chart's steps ask the engine to do, read from the queries chart_containers builds.

No engine runs here (see dagger_query.py): these tests check the wiring of the helm lint and template
containers, the registry and k3s services and the cluster client: pinned images, mounts and caches,
service bindings and their aliases, privileges, exposed ports, and that the execs are exactly the
command lines vibevoice_ci.helm and vibevoice_ci.cluster build (which the other tests run for real).
"""

from __future__ import annotations

from dagger import dag
from dagger_query import args_of, chain, execs, fields, only
from vibevoice_ci import chart_containers, cluster, helm
from vibevoice_ci.images import ImagePin

HELM = ImagePin("helm", "alpine/helm", "3.19.0", "sha256:" + "1" * 64)
K3S = ImagePin("k3s", "rancher/k3s", "v1.36.4-k3s1", "sha256:" + "2" * 64)
REGISTRY = ImagePin("registry", "registry", "2", "sha256:" + "3" * 64)
CHART = dag.directory().with_new_file("Chart.yaml", "name: vibevoice")
RUN = "0123456789ab"


def test_helm_lint_lints_and_renders_every_values_set_in_the_pinned_helm() -> None:
    entries = ["cpu-values.yaml", "gpu-values.yaml"]
    linted = chart_containers.linted(HELM, CHART, entries, "1.36.4")
    assert only(linted, "from") == {"address": HELM.reference}
    assert only(linted, "withDirectory") == {"path": "/chart", "source": CHART}
    assert execs(linted) == helm.lint_commands(
        "/chart", entries, kube_version="1.36.4", output_dir=chart_containers.RENDERED_DIR
    )
    assert [argv[1] for argv in execs(linted)] == ["lint", "template"] * 3  # defaults, cpu, gpu
    assert all("expect" not in args for args in args_of(linted, "withExec"))  # any failure fails the check


def test_helm_template_renders_the_cpu_values_by_default() -> None:
    manifests = chart_containers.rendered(HELM, CHART, "1.36.4", None)
    run = only(manifests, "withExec")
    assert run["args"] == helm.helm_template(
        "vibevoice",
        "/chart",
        namespace="vibevoice",
        values_files=["/chart/ci/cpu-values.yaml"],
        kube_version="1.36.4",
    )
    assert run["redirectStdout"] == chart_containers.RENDERED_FILE
    assert chain(manifests)[-1].field == "file"
    assert chain(manifests)[-1].args == {"path": chart_containers.RENDERED_FILE}


def test_helm_template_renders_a_given_values_file() -> None:
    values = dag.directory().with_new_file("mine.yaml", "tts: {replicaCount: 3}").file("mine.yaml")
    manifests = chart_containers.rendered(HELM, CHART, "1.36.4", values)
    assert only(manifests, "withFile") == {"path": chart_containers.VALUES_FILE, "source": values}
    argv = only(manifests, "withExec")["args"]
    assert argv[argv.index("--values") + 1] == chart_containers.VALUES_FILE
    assert fields(manifests).index("withFile") < fields(manifests).index("withExec")


def test_the_registry_keeps_its_storage_on_a_cache_volume() -> None:
    registry = chart_containers.cluster_registry(REGISTRY)
    assert only(registry, "from") == {"address": REGISTRY.reference}
    cache = only(registry, "withMountedCache")
    assert cache["path"] == "/var/lib/registry"
    assert only(cache["cache"], "cacheVolume") == {"key": cluster.REGISTRY_VOLUME}
    assert only(registry, "withExposedPort") == {"port": 5000}
    assert only(registry, "asService") == {"useEntrypoint": True}


def test_k3s_runs_privileged_beside_the_registry_with_its_state_off_the_overlay() -> None:
    registry = chart_containers.cluster_registry(REGISTRY)
    server = chart_containers.k3s_server(K3S, registry, RUN)
    assert only(server, "from") == {"address": K3S.reference}
    assert only(server, "withNewFile") == {
        "path": cluster.REGISTRIES_YAML,
        "contents": cluster.registries_yaml(),
    }
    assert [args["path"] for args in args_of(server, "withMountedTemp")] == list(cluster.K3S_STATE_DIRS)
    exchange = only(server, "withMountedCache")
    assert exchange["path"] == cluster.KUBECONFIG_EXCHANGE
    assert only(exchange["cache"], "cacheVolume") == {"key": cluster.KUBECONFIG_VOLUME}
    assert only(server, "withServiceBinding") == {"alias": "registry", "service": registry}
    assert only(server, "withExposedPort") == {"port": 6443}
    assert only(server, "asService") == {
        "args": cluster.k3s_server(cluster.kubeconfig_source(RUN)),
        "insecureRootCapabilities": True,
    }


def test_each_run_gets_its_own_k3s() -> None:
    registry = chart_containers.cluster_registry(REGISTRY)
    first = only(chart_containers.k3s_server(K3S, registry, RUN), "asService")["args"]
    second = only(chart_containers.k3s_server(K3S, registry, "ba9876543210"), "asService")["args"]
    assert first != second  # a different kubeconfig path: a different service, nothing cached across runs


def test_the_client_is_the_k3s_image_with_helm_the_chart_and_k3s_bound() -> None:
    k3s = chart_containers.k3s_server(K3S, chart_containers.cluster_registry(REGISTRY), RUN)
    client = chart_containers.kube_client(K3S, HELM, CHART, k3s)
    assert only(client, "from") == {"address": K3S.reference}
    added = only(client, "withFile")
    assert added["path"] == cluster.HELM_IN_CLIENT
    assert only(added["source"], "from") == {"address": HELM.reference}
    assert chain(added["source"])[-1].args == {"path": cluster.HELM_IN_IMAGE}
    env = {args["name"]: args["value"] for args in args_of(client, "withEnvVariable")}
    assert env == cluster.client_env()
    assert only(client, "withDirectory") == {"path": "/chart", "source": CHART}
    assert only(only(client, "withMountedCache")["cache"], "cacheVolume") == {
        "key": cluster.KUBECONFIG_VOLUME
    }
    assert only(client, "withServiceBinding") == {"alias": "k3s", "service": k3s}
    assert execs(client) == []
