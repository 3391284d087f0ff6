"""A thin, typed layer over the docker CLI for the container tests.

Everything goes through the real `docker` client against the real engine: containers are started
detached with their ports published on loopback (host port chosen by the engine), and always removed.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from tests.support.tools import require_tool, unavailable


class DockerError(RuntimeError):
    """A docker command failed; the message carries its argv, exit status and stderr."""


@dataclass(frozen=True)
class Docker:
    """The docker client binary; every call raises DockerError on a non-zero exit."""

    binary: str

    def run(self, *args: str, timeout: float = 120.0, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run `docker ARGS...` and return its completed process (text mode)."""
        result = subprocess.run(
            [self.binary, *args], capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and result.returncode != 0:
            raise DockerError(f"docker {' '.join(args)} exited {result.returncode}:\n{result.stderr[-3000:]}")
        return result

    def out(self, *args: str, timeout: float = 120.0) -> str:
        """Standard output of `docker ARGS...`, stripped."""
        return self.run(*args, timeout=timeout).stdout.strip()

    def inspect(self, kind: str, name: str) -> dict[str, Any]:
        """`docker KIND inspect NAME` as a dict (KIND: image or container)."""
        return json.loads(self.out(kind, "inspect", name))[0]


def connect() -> Docker:
    """The docker client, with an engine that answers; skips locally (fails under CI) otherwise."""
    docker = Docker(require_tool("docker", "apt-get install docker.io, then scripts/start-dockerd.sh"))
    answer = docker.run("info", "--format", "{{.ServerVersion}}", timeout=30, check=False)
    if answer.returncode != 0 or not answer.stdout.strip():
        unavailable(f"no docker engine answers (scripts/start-dockerd.sh): {answer.stderr.strip()[-300:]}")
    return docker


@dataclass(frozen=True)
class Container:
    """A started container."""

    docker: Docker
    id: str

    def state(self) -> dict[str, Any]:
        """The container's State block (Status, ExitCode, Health, ...)."""
        return self.docker.inspect("container", self.id)["State"]

    def host_port(self, port: int) -> int:
        """The loopback port the engine published `port` on."""
        mapping = self.docker.out("port", self.id, f"{port}/tcp")
        return int(mapping.splitlines()[0].rsplit(":", 1)[1])

    def logs(self) -> str:
        """Everything the container has written."""
        result = self.docker.run("logs", self.id, check=False)
        return result.stdout + result.stderr

    def wait_healthy(self, timeout: float = 90.0) -> float:
        """Seconds until the image's HEALTHCHECK says healthy; raises with the logs if it never does."""
        started = time.monotonic()
        status = "unknown"
        while time.monotonic() - started < timeout:
            state = self.state()
            status = state.get("Health", {}).get("Status", "none")
            if status == "healthy":
                return time.monotonic() - started
            if state["Status"] != "running" or status == "unhealthy":
                break
            time.sleep(0.5)
        raise AssertionError(f"container {self.id[:12]} not healthy ({status}):\n{self.logs()[-3000:]}")


@contextmanager
def running(
    docker: Docker,
    image: str,
    *args: str,
    options: Sequence[str] = (),
    publish: Sequence[int] = (),
) -> Iterator[Container]:
    """`docker run -d [options] image args...`, removed (forcibly) when the block ends."""
    ports = [flag for port in publish for flag in ("--publish", f"127.0.0.1::{port}")]
    container_id = docker.out("run", "--detach", *ports, *options, image, *args)
    try:
        yield Container(docker, container_id)
    finally:
        docker.run("rm", "--force", "--volumes", container_id, check=False)


@contextmanager
def network(docker: Docker) -> Iterator[str]:
    """A user-defined bridge network (containers on it find each other by alias), removed afterwards."""
    name = f"vibevoice-test-{uuid.uuid4().hex[:8]}"
    docker.run("network", "create", name)
    try:
        yield name
    finally:
        docker.run("network", "rm", name, check=False)
