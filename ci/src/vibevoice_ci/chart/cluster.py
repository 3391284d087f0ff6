"""The cluster test: the chart installed from this commit's images into a throwaway k3s in the engine.

Three containers, all inside the engine:

- a registry (`registry:2`) as a service, aliased `registry`, port 5000. The images built for the
  engine's own platform are published to it with `Container.publish(..., registry_service=)`. The
  address they are published under is `localhost:5000/...`: in engine 0.21 that option lends the
  service to the address's host name, and the engine speaks plain HTTP only to `localhost` (a plain
  registry needs no TLS setup, and 0.21 has no per-call switch to HTTP).
- k3s as a service (the image's own `k3s server`, privileged), aliased `k3s`, port 6443, bound to the
  registry, with a containerd mirror that pulls `registry:5000/...` over plain HTTP. Its state lives
  on temporary mounts at the paths its image declares as volumes (containerd cannot keep snapshots
  on the container's own overlay filesystem). It writes its admin kubeconfig into a cache volume that
  the client mounts too, under a directory unique to the run.
- a client: the k3s image (it carries kubectl) with helm added, bound to k3s. It waits for the
  kubeconfig and a Ready node, installs the chart (`helm upgrade --install --wait`, the cpu values, both
  images by digest from `registry:5000`), runs the chart's `helm test` pod, then runs `vibevoice-smoke`
  in a pod labelled as the chart's test component, which the chart's NetworkPolicy lets reach the TTS.

Everything here is pure: names, files and command lines; containers.py wires them into containers.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence

from vibevoice_ci.chart import helm
from vibevoice_ci.core import commands
from vibevoice_ci.core.outcomes import tail
from vibevoice_ci.images.catalog import AGENT, TTS

# -- the registry ----------------------------------------------------------------------------------
REGISTRY_ALIAS = "registry"
REGISTRY_PORT = 5000
# What the cluster pulls from: the chart's imageRegistry, mirrored to the registry service over HTTP.
REGISTRY_HOST = f"{REGISTRY_ALIAS}:{REGISTRY_PORT}"
# What the engine pushes to (see the module docstring): the same registry, reached as localhost.
PUSH_HOST = f"localhost:{REGISTRY_PORT}"
REGISTRY_STORAGE = "/var/lib/registry"
# Keeps the pushed layers even if the registry service is restarted between the push and the pull.
REGISTRY_VOLUME = "vibevoice-cluster-registry"

# -- k3s -------------------------------------------------------------------------------------------
K3S_ALIAS = "k3s"
K3S_PORT = 6443
K3S_SERVER_URL = f"https://{K3S_ALIAS}:{K3S_PORT}"
# The paths the k3s image declares as volumes: they must not be on the container's overlay root.
K3S_STATE_DIRS = ("/var/lib/kubelet", "/var/lib/rancher/k3s", "/var/lib/cni", "/var/log")
REGISTRIES_YAML = "/etc/rancher/k3s/registries.yaml"
# Packaged components the test does not need (ingress, load balancer, metrics, local volumes).
K3S_DISABLED = ("traefik", "servicelb", "metrics-server", "local-storage")
# Where k3s leaves its kubeconfig for the client: a cache volume both mount, one directory per run.
KUBECONFIG_VOLUME = "vibevoice-k3s-kubeconfig"
KUBECONFIG_EXCHANGE = "/run/vibevoice-k3s"

# -- the client ------------------------------------------------------------------------------------
CLIENT_KUBECONFIG = "/tmp/kubeconfig.yaml"  # noqa: S108 - a path inside the client container
HELM_IN_CLIENT = "/bin/helm"  # on the k3s image's PATH
HELM_HOME = "/tmp/helm"  # noqa: S108 - helm's cache, config and data in the client container
SMOKE_POD = "vibevoice-smoke"

# -- timeouts (seconds) ----------------------------------------------------------------------------
CLUSTER_READY_S = 300
INSTALL_S = 600
HELM_TEST_S = 300
SMOKE_POD_S = 300

# The chart's name (values nameOverride empty) and the image repository of each component.
CHART_NAME = "vibevoice"
REPOSITORIES = {TTS.name: "vibevoice-tts", AGENT.name: "vibevoice-agent"}
PORTS = {TTS.name: TTS.port, AGENT.name: AGENT.port}

_RUN_ID = re.compile(r"[0-9a-f]{8,32}")
_K3S_TAG = re.compile(r"v(?P<version>\d+\.\d+\.\d+)[+-]k3s\d+")
_PUBLISHED = re.compile(r"[^@\s]+@(?P<digest>sha256:[0-9a-f]{64})")

# Runs as the k3s service's command: `sh -c START_K3S k3s-start KUBECONFIG k3s server FLAGS...`.
# k3s moves itself out of the root cgroup and hands the cgroup v2 controllers down to its pods only
# when it is PID 1; in a Dagger service an init process is PID 1, so this does the same first: every
# process goes to a child group `init`, then all available controllers are enabled for the children.
# CGROUP_ROOT exists for the tests, which run it against an ordinary directory.
START_K3S = """set -eu
kubeconfig=$1
shift
cgroup=${CGROUP_ROOT:-/sys/fs/cgroup}
if [ -f "$cgroup/cgroup.controllers" ]; then
  mkdir -p "$cgroup/init"
  while read -r pid; do
    echo "$pid" > "$cgroup/init/cgroup.procs" 2>/dev/null || true  # it may have exited meanwhile
  done < "$cgroup/cgroup.procs"
  available=""
  read -r available < "$cgroup/cgroup.controllers" || true
  wanted=""
  for controller in $available; do wanted="$wanted +$controller"; done
  if [ -n "$wanted" ]; then echo "${wanted# }" > "$cgroup/cgroup.subtree_control"; fi
fi
mkdir -p "${kubeconfig%/*}"
exec "$@" --write-kubeconfig="$kubeconfig"
"""

# Runs in the client: `sh -c WAIT_FOR_CLUSTER wait-for-cluster SOURCE KUBECONFIG SERVER DEADLINE_S`.
# Waits for k3s's kubeconfig, copies it with the server address the client reaches k3s at (k3s
# writes its own loopback address), then waits for a registered, Ready node.
WAIT_FOR_CLUSTER = """set -eu
source=$1
kubeconfig=$2
server=$3
deadline=$4
waited=0
tick() {
  if [ "$waited" -ge "$deadline" ]; then
    echo "k3s: $1 within $deadline s" >&2
    exit 1
  fi
  sleep 1
  waited=$((waited + 1))
}
until [ -s "$source" ]; do tick "no kubeconfig at $source"; done
kubectl --kubeconfig="$source" config view --raw > "$kubeconfig"
kubectl --kubeconfig="$kubeconfig" config set-cluster default --server="$server"
until nodes=$(kubectl --kubeconfig="$kubeconfig" get nodes -o name 2>/dev/null) && [ -n "$nodes" ]; do
  tick "no node registered"
done
left=$((deadline - waited))
if [ "$left" -lt 1 ]; then left=1; fi
kubectl --kubeconfig="$kubeconfig" wait --for=condition=Ready nodes --all --timeout="${left}s"
"""

# Runs in the client after a failed step: what the cluster looked like, each part best effort.
DIAGNOSTICS = """# shellcheck disable=SC2086 # each command is meant to split into its arguments
namespace=$1
instance=$2
for command in \\
  "get nodes -o wide" \\
  "get all,networkpolicy,poddisruptionbudget -n $namespace -o wide" \\
  "describe pods -n $namespace" \\
  "get events -n $namespace --sort-by=.lastTimestamp" \\
  "logs -n $namespace -l app.kubernetes.io/instance=$instance --all-containers --prefix --tail=100" \\
  "get pods -n kube-system -o wide"; do
  echo "--- kubectl $command"
  kubectl $command 2>&1 || true
done
"""


class ClusterTestFailed(Exception):
    """A step of the cluster test failed; the message names it and carries the cluster's state."""


def run_id() -> str:
    """A fresh identifier for one cluster test: it keeps runs (and their kubeconfigs) apart."""
    return secrets.token_hex(6)


def kubeconfig_source(run: str) -> str:
    """Where k3s writes the admin kubeconfig of run `run` (in the shared cache volume)."""
    if not _RUN_ID.fullmatch(run):
        msg = f"not a run id: {run!r} (8 to 32 lowercase hex digits)"
        raise ValueError(msg)
    return f"{KUBECONFIG_EXCHANGE}/{run}/kubeconfig.yaml"


def kube_version(k3s_tag: str) -> str:
    """The Kubernetes version of a k3s image tag (v1.33.4-k3s1 -> 1.33.4)."""
    match = _K3S_TAG.fullmatch(k3s_tag)
    if match is None:
        msg = f"not a k3s image tag: {k3s_tag!r} (e.g. v1.33.4-k3s1)"
        raise ValueError(msg)
    return match["version"]


def registries_yaml() -> str:
    """k3s's registries.yaml: pull `registry:5000/...` from the registry service, over plain HTTP."""
    return f'mirrors:\n  "{REGISTRY_HOST}":\n    endpoint:\n      - "http://{REGISTRY_HOST}"\n'


def k3s_server(kubeconfig: str) -> list[str]:
    """The k3s service's command: cgroup set-up, then a single-node server reachable as `k3s`.

    The egress selector is off so the API server reaches the kubelet directly: `helm test --logs` and
    `kubectl run --attach` read pod logs and attach through it.
    """
    flags = [f"--disable={component}" for component in K3S_DISABLED]
    flags += ["--egress-selector-mode=disabled", f"--tls-san={K3S_ALIAS}"]
    return ["sh", "-c", START_K3S, "k3s-start", kubeconfig, "k3s", "server", *flags]


def wait_for_cluster(source: str, *, kubeconfig: str = CLIENT_KUBECONFIG, deadline_s: int) -> list[str]:
    """Wait for k3s's kubeconfig at `source`, write the client's at `kubeconfig`, wait for a Ready node."""
    if deadline_s <= 0:
        msg = f"a deadline must be positive, not {deadline_s}"
        raise ValueError(msg)
    return [
        "sh",
        "-c",
        WAIT_FOR_CLUSTER,
        "wait-for-cluster",
        source,
        kubeconfig,
        K3S_SERVER_URL,
        str(deadline_s),
    ]


def client_env() -> dict[str, str]:
    """The client's environment: its kubeconfig, and helm's and kubectl's files under /tmp."""
    return {
        "KUBECONFIG": CLIENT_KUBECONFIG,
        "HOME": "/tmp",  # noqa: S108 - kubectl's cache, inside the client container
        "HELM_CACHE_HOME": f"{HELM_HOME}/cache",
        "HELM_CONFIG_HOME": f"{HELM_HOME}/config",
        "HELM_DATA_HOME": f"{HELM_HOME}/data",
    }


def push_reference(component: str, tag: str) -> str:
    """Where the engine publishes a component's image: `localhost:5000/<repository>:<tag>`."""
    return f"{PUSH_HOST}/{_repository(component)}:{tag}"


def digest_of(published: str) -> str:
    """The digest in a reference `Container.publish` returned (`...@sha256:<64 hex>`)."""
    match = _PUBLISHED.fullmatch(published.strip())
    if match is None:
        msg = f"not a published reference with a digest: {published!r}"
        raise ValueError(msg)
    return match["digest"]


def cluster_image(component: str, digest: str) -> str:
    """The image the cluster pulls for a component: `registry:5000/<repository>@<digest>`."""
    helm.image_overrides(REGISTRY_HOST, digests={component: digest})  # validates both
    return f"{REGISTRY_HOST}/{_repository(component)}@{digest}"


def fullname(release: str) -> str:
    """The chart's `vibevoice.fullname` for a release (no overrides): the prefix of its resources."""
    name = release if CHART_NAME in release else f"{release}-{CHART_NAME}"
    return name[:63].rstrip("-")


def service_url(release: str, component: str) -> str:
    """A component's Service URL inside the release's namespace (`vibevoice.componentName`)."""
    name = f"{fullname(release)}-{component}"[:63].rstrip("-")
    return f"http://{name}:{PORTS[_known(component)]}"


def admitted_labels(release: str) -> dict[str, str]:
    """The labels of the chart's test component: the TTS NetworkPolicy admits pods that carry them."""
    return {
        "app.kubernetes.io/name": CHART_NAME,
        "app.kubernetes.io/instance": release,
        "app.kubernetes.io/component": "test",
    }


def smoke_pod(*, namespace: str, release: str, image: str, timeout_s: int = SMOKE_POD_S) -> list[str]:
    """`vibevoice-smoke` against the release's Services, from a pod inside the cluster.

    The pod carries the test component's labels, so the chart's NetworkPolicy lets it reach the TTS as
    it lets the chart's own test pod. `kubectl run --attach --rm --restart=Never` streams its output,
    deletes it, and exits with its exit code.
    """
    labels = ",".join(f"{key}={value}" for key, value in sorted(admitted_labels(release).items()))
    smoke = commands.smoke(service_url(release, TTS.name), service_url(release, AGENT.name))
    return [
        "kubectl",
        "run",
        SMOKE_POD,
        f"--namespace={namespace}",
        f"--image={image}",
        "--image-pull-policy=IfNotPresent",
        "--restart=Never",
        f"--labels={labels}",
        "--attach",
        "--rm",
        "--quiet",
        f"--pod-running-timeout={timeout_s}s",
        "--command",
        "--",
        *smoke,
    ]


def cluster_steps(
    run: str,
    digests: Mapping[str, str],
    *,
    chart: str = helm.CHART_MOUNT,
    release: str = helm.RELEASE,
    namespace: str = helm.NAMESPACE,
) -> list[tuple[str, list[str]]]:
    """The client's steps, in order, by name: cluster ready, install, the chart's test, the smoke."""
    overrides = helm.image_overrides(REGISTRY_HOST, digests=digests)
    install = helm.helm_upgrade_install(
        release,
        chart,
        namespace=namespace,
        values_files=[helm.cluster_values_file(chart)],
        set_strings=overrides,
        timeout_s=INSTALL_S,
    )
    smoke = smoke_pod(namespace=namespace, release=release, image=cluster_image(TTS.name, digests[TTS.name]))
    return [
        ("cluster ready", wait_for_cluster(kubeconfig_source(run), deadline_s=CLUSTER_READY_S)),
        ("helm upgrade --install", install),
        ("helm test", helm.helm_test(release, namespace=namespace, timeout_s=HELM_TEST_S)),
        ("vibevoice-smoke in the cluster", smoke),
    ]


def summary(outputs: Sequence[tuple[str, str]], lines: int = 15) -> str:
    """What passed, each step with the tail of its output (the helm test pod's log, the smoke's)."""
    report = [f"cluster-test: {len(outputs)} steps passed"]
    for name, output in outputs:
        report.append(f"  PASS  {name}")
        report.extend(f"        {line}" for line in tail(output, lines).splitlines())
    return "\n".join(report)


def failure_report(step: str, reason: str, state: str, lines: int = 200) -> str:
    """Why the cluster test failed: the step, its error, and the cluster's state at that moment."""
    return f"cluster-test: {step} failed\n{reason}\n--- the cluster at that moment\n{tail(state, lines)}"


def diagnostics(*, namespace: str, release: str) -> list[str]:
    """What the cluster looked like: nodes, the release's objects, pods, events and logs."""
    return ["sh", "-c", DIAGNOSTICS, "diagnostics", namespace, release]


def _repository(component: str) -> str:
    return REPOSITORIES[_known(component)]


def _known(component: str) -> str:
    if component not in REPOSITORIES:
        msg = f"no such component: {component!r}; choose from: {', '.join(REPOSITORIES)}"
        raise ValueError(msg)
    return component
