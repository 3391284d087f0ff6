"""The containers and services of the chart's steps: helm lint and template, and the cluster test.

Wiring only: which pinned image, which directory and cache where, which command lines (from helm and
cluster) in which order. `cluster_test` is the one that awaits: it starts and stops the services
around the steps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import anyio
import dagger
from dagger import dag

from vibevoice_ci.chart import cluster, helm
from vibevoice_ci.core.outcomes import describe_failure
from vibevoice_ci.core.pins import BINARIES, ImagePin

RENDERED_DIR = "/tmp/rendered"  # noqa: S108 - inside the helm container
RENDERED_FILE = "/tmp/manifests.yaml"  # noqa: S108 - inside the helm container
VALUES_FILE = "/tmp/values.yaml"  # noqa: S108 - inside the helm container


def helm_env(helm_image: ImagePin, chart: dagger.Directory) -> dagger.Container:
    """The pinned helm image with the chart at /chart."""
    return (
        dag.container()
        .from_(helm_image.reference)
        .with_directory(helm.CHART_MOUNT, chart)
        .with_workdir(helm.CHART_MOUNT)
    )


def linted(
    helm_image: ImagePin, chart: dagger.Directory, ci_entries: Sequence[str], kube_version: str
) -> dagger.Container:
    """helm lint --strict, then helm template, for the defaults and every ci values file, in order."""
    env = helm_env(helm_image, chart)
    for argv in helm.lint_commands(
        helm.CHART_MOUNT, ci_entries, kube_version=kube_version, output_dir=RENDERED_DIR
    ):
        env = env.with_exec(argv)
    return env


def rendered(
    helm_image: ImagePin, chart: dagger.Directory, kube_version: str, values: dagger.File | None
) -> dagger.File:
    """The manifests of the chart rendered with `values` (None: the chart's ci/cpu-values.yaml)."""
    env = helm_env(helm_image, chart)
    values_file = helm.cluster_values_file(helm.CHART_MOUNT)
    if values is not None:
        env = env.with_file(VALUES_FILE, values)
        values_file = VALUES_FILE
    argv = helm.helm_template(
        helm.RELEASE,
        helm.CHART_MOUNT,
        namespace=helm.NAMESPACE,
        values_files=[values_file],
        kube_version=kube_version,
    )
    return env.with_exec(argv, redirect_stdout=RENDERED_FILE).file(RENDERED_FILE)


def cluster_registry(registry_image: ImagePin) -> dagger.Service:
    """A plain registry on port 5000, its storage on a cache volume."""
    return (
        dag.container()
        .from_(registry_image.reference)
        .with_mounted_cache(cluster.REGISTRY_STORAGE, dag.cache_volume(cluster.REGISTRY_VOLUME))
        .with_exposed_port(cluster.REGISTRY_PORT)
        .as_service(use_entrypoint=True)
    )


def k3s_server(k3s_image: ImagePin, registry: dagger.Service, run: str) -> dagger.Service:
    """A single-node k3s (privileged) that pulls `registry:5000/...` from `registry` over HTTP."""
    server = (
        dag.container()
        .from_(k3s_image.reference)
        .with_new_file(cluster.REGISTRIES_YAML, cluster.registries_yaml())
    )
    for path in cluster.K3S_STATE_DIRS:
        server = server.with_mounted_temp(path)
    return (
        server.with_mounted_cache(cluster.KUBECONFIG_EXCHANGE, dag.cache_volume(cluster.KUBECONFIG_VOLUME))
        .with_service_binding(cluster.REGISTRY_ALIAS, registry)
        .with_exposed_port(cluster.K3S_PORT)
        .as_service(args=cluster.k3s_server(cluster.kubeconfig_source(run)), insecure_root_capabilities=True)
    )


def kube_client(
    k3s_image: ImagePin, helm_image: ImagePin, chart: dagger.Directory, k3s: dagger.Service
) -> dagger.Container:
    """The k3s image (its kubectl is the cluster's own version) with helm, the chart and k3s bound."""
    helm_binary = dag.container().from_(helm_image.reference).file(BINARIES["helm"])
    client = dag.container().from_(k3s_image.reference).with_file(cluster.HELM_IN_CLIENT, helm_binary)
    for key, value in cluster.client_env().items():
        client = client.with_env_variable(key, value)
    return (
        client.with_directory(helm.CHART_MOUNT, chart)
        .with_mounted_cache(cluster.KUBECONFIG_EXCHANGE, dag.cache_volume(cluster.KUBECONFIG_VOLUME))
        .with_service_binding(cluster.K3S_ALIAS, k3s)
    )


async def push(images: Mapping[str, dagger.Container], registry: dagger.Service, tag: str) -> dict[str, str]:
    """Publish each component's image to the registry service, concurrently; their digests by component."""
    digests: dict[str, str] = {}

    async def publish(component: str, image: dagger.Container) -> None:
        published = await image.publish(cluster.push_reference(component, tag), registry_service=registry)
        digests[component] = cluster.digest_of(published)

    async with anyio.create_task_group() as group:
        for component, image in images.items():
            group.start_soon(publish, component, image)
    return digests


async def run_cluster_steps(client: dagger.Container, steps: Sequence[tuple[str, list[str]]]) -> str:
    """Each step in turn in the client; on a failure, the cluster's state joins the error."""
    outputs: list[tuple[str, str]] = []
    for name, argv in steps:
        before = client
        client = client.with_exec(argv)
        try:
            outputs.append((name, await client.stdout()))
        except dagger.ExecError as error:
            state = await before.with_exec(
                cluster.diagnostics(namespace=helm.NAMESPACE, release=helm.RELEASE),
                expect=dagger.ReturnType.ANY,
            ).stdout()
            raise cluster.ClusterTestFailed(
                cluster.failure_report(name, describe_failure(error), state)
            ) from None
    return cluster.summary(outputs)


async def cluster_test(
    *,
    images: Mapping[str, dagger.Container],
    chart: dagger.Directory,
    k3s_image: ImagePin,
    helm_image: ImagePin,
    registry_image: ImagePin,
) -> str:
    """Registry up, images pushed, k3s up, then the client's steps; both services stopped however it ends."""
    run = cluster.run_id()
    registry = cluster_registry(registry_image)
    await registry.start()
    try:
        digests = await push(images, registry, f"cluster-{run}")
        k3s = k3s_server(k3s_image, registry, run)
        await k3s.start()
        try:
            client = kube_client(k3s_image, helm_image, chart, k3s)
            return await run_cluster_steps(client, cluster.cluster_steps(run, digests))
        finally:
            await k3s.stop()
    finally:
        await registry.stop()
