"""The services the pipeline builds: their Dockerfiles, targets, ports and how they are wired.

One table, so a new service or target is one entry. The contract with the Dockerfiles: the shipped
stage is the last one (a plain `docker build` gives the shipped image), `test` adds the dev extra and
the tests on top of the runtime, and each image exposes its port with a HEALTHCHECK on /ready.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

TEST_TARGET = "test"
MODEL_TEST_TARGET = "test-model"  # the test stage plus the gpu extra (PyTorch's CPU build)
DEFAULT_PLATFORMS = ("linux/amd64", "linux/arm64")
_PLATFORM = re.compile(r"[a-z0-9]+/[a-z0-9_]+(?:/[a-z0-9]+)?")


@dataclass(frozen=True)
class ServiceSpec:
    """One service: its Dockerfile, its shipped and other targets, its port."""

    name: str
    dockerfile: str
    port: int
    shipped_target: str
    targets: frozenset[str]
    # Services it calls, bound under their names, and its environment when it runs beside them.
    depends_on: tuple[str, ...] = ()
    bound_env: Mapping[str, str] = field(default_factory=dict[str, str])

    @property
    def url(self) -> str:
        """Its URL for a container it is bound to (the binding alias is the service name)."""
        return f"http://{self.name}:{self.port}"

    def target(self, requested: str) -> str:
        """The build target for `requested` ("" means the shipped one), validated."""
        target = requested.strip() or self.shipped_target
        if target not in self.targets:
            choices = ", ".join(sorted(self.targets))
            msg = f"service {self.name!r} has no target {target!r}; choose one of: {choices}"
            raise ValueError(msg)
        return target


TTS = ServiceSpec(
    name="tts",
    dockerfile="Dockerfile.tts",
    port=8000,
    shipped_target="cpu",
    targets=frozenset({"cpu", "cuda", TEST_TARGET, MODEL_TEST_TARGET}),
)
AGENT = ServiceSpec(
    name="agent",
    dockerfile="Dockerfile.agent",
    port=8080,
    shipped_target="agent",
    targets=frozenset({"agent", TEST_TARGET}),
    depends_on=(TTS.name,),
    bound_env={"VIBEVOICE_AGENT_TTS_URL": TTS.url, "VIBEVOICE_AGENT_LLM": "scripted"},
)
# In dependency order: a service comes after the services it depends on.
SERVICES: Mapping[str, ServiceSpec] = {spec.name: spec for spec in (TTS, AGENT)}


def service_spec(name: str) -> ServiceSpec:
    """The service called `name`, or a clear error listing the choices."""
    try:
        return SERVICES[name.strip().lower()]
    except KeyError:
        choices = ", ".join(SERVICES)
        msg = f"unknown service {name!r}; choose one of: {choices}"
        raise ValueError(msg) from None


def platforms(requested: Iterable[str]) -> list[str]:
    """Validated `os/arch[/variant]` platforms, in order, without duplicates; at least one."""
    result: list[str] = []
    for raw in requested:
        platform = raw.strip().lower()
        if not _PLATFORM.fullmatch(platform):
            msg = f"not a platform: {raw!r} (e.g. linux/amd64, linux/arm64, linux/arm/v7)"
            raise ValueError(msg)
        if platform not in result:
            result.append(platform)
    if not result:
        msg = "at least one platform is needed"
        raise ValueError(msg)
    return result


def runnable_platform(engine_platform: str, candidates: Iterable[str]) -> str:
    """The candidate the engine runs natively, else the first one (run under emulation)."""
    ordered = platforms(candidates)
    native = engine_platform.strip().lower()
    return native if native in ordered else ordered[0]
