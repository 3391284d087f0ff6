"""The services the pipeline builds: their Dockerfiles, targets, ports and how they are wired.

One table, so a new service or target is one entry. The contract with the Dockerfiles: the shipped
stage is the last one (a plain `docker build` gives the shipped image), `test` adds the dev extra and
the tests on top of the runtime, and each image exposes its port with a HEALTHCHECK on /ready.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from vibevoice_ci.core.tags import image_references

TEST_TARGET = "test"
MODEL_TEST_TARGET = "test-model"  # the test stage plus the gpu extra (PyTorch's CPU build)
CUDA_TEST_TARGET = "test-cuda"  # the cuda image plus the tests: the realtime model code on its CPU
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
    # Build arguments a target needs (the model tests' stage stands on the model dependencies).
    build_args: Mapping[str, Mapping[str, str]] = field(default_factory=dict[str, Mapping[str, str]])

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

    def target_args(self, requested: str) -> dict[str, str]:
        """The build arguments the target `requested` needs."""
        return dict(self.build_args.get(self.target(requested), {}))


TTS = ServiceSpec(
    name="tts",
    dockerfile="Dockerfile.tts",
    port=8000,
    shipped_target="cpu",
    targets=frozenset({"cpu", "cuda", TEST_TARGET, MODEL_TEST_TARGET, CUDA_TEST_TARGET}),
    build_args={MODEL_TEST_TARGET: {"TEST_DEPS": "model-deps"}},
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


@dataclass(frozen=True)
class ReleaseImage:
    """One image a release publishes: a service's target, on the platforms it is built for.

    Its tags carry `tag_suffix`, so the CUDA build (`0.1.0-cuda`, `sha-abc1234-cuda`) can never be
    pulled by a reference meant for the CPU one; `key` names it in tables, evidence and provenance.
    """

    key: str
    service: ServiceSpec
    target: str
    only_platforms: tuple[str, ...] = ()  # empty: every platform the release builds
    tag_suffix: str = ""

    def platforms(self, requested: Iterable[str]) -> list[str]:
        """The requested platforms this image is built for (possibly none)."""
        wanted = platforms(requested)
        return [p for p in wanted if not self.only_platforms or p in self.only_platforms]


# The shipped images (every push to main and every release) and the CUDA build (every release, and
# on request: it is large and slow to build, and no hosted runner has a GPU to smoke-test it on).
SHIPPED_IMAGES = tuple(ReleaseImage(spec.name, spec, spec.shipped_target) for spec in SERVICES.values())
CUDA_IMAGE = ReleaseImage("tts-cuda", TTS, "cuda", only_platforms=("linux/amd64",), tag_suffix="-cuda")
RELEASE_IMAGES = (*SHIPPED_IMAGES, CUDA_IMAGE)


def release_references(
    images: Sequence[ReleaseImage], registry: str, repository: str, ref: str, sha: str
) -> dict[str, list[str]]:
    """Every reference each release image is published under, keyed by the image's key."""
    return {
        image.key: image_references(
            registry, repository, image.service.name, ref, sha, suffix=image.tag_suffix
        )
        for image in images
    }


def release_images(*, cuda: bool) -> tuple[ReleaseImage, ...]:
    """What a release builds, scans, publishes and signs: the shipped images, and the CUDA one."""
    return RELEASE_IMAGES if cuda else SHIPPED_IMAGES


def release_key(service: str, target: str) -> str:
    """The key of the release image built from `service`'s `target` (the service's name if none)."""
    for image in RELEASE_IMAGES:
        if (image.service.name, image.target) == (service, target):
            return image.key
    return service


def release_image_of(service: str, tag: str) -> ReleaseImage:
    """Which release image a published `service` image is, from its tag's suffix."""
    candidates = [i for i in RELEASE_IMAGES if i.service.name == service]
    suffixed = [i for i in candidates if i.tag_suffix and tag.endswith(i.tag_suffix)]
    plain = [i for i in candidates if not i.tag_suffix]
    found = suffixed or plain
    if not found:
        msg = f"no release image of service {service!r}"
        raise ValueError(msg)
    return found[0]


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


def wrong_platforms(built: Mapping[tuple[str, str], str]) -> list[str]:
    """Each variant, keyed (image, requested platform), whose image reports another OS or architecture.

    A mirror that holds one platform of a multi-platform base serves it for every request, and the
    build then succeeds with the wrong content (found on an engine behind a mirror: the arm64 variants
    were amd64, and the published index had one platform)."""
    wrong: list[str] = []
    for (key, requested), reported in built.items():
        if requested.split("/")[:2] != str(reported).strip().lower().split("/")[:2]:
            wrong.append(
                f"{key} {requested}: the image is {reported} (a mirror must hold every platform of the "
                "base images: copy them with `skopeo copy --all` or `crane copy --all-tags`)"
            )
    return wrong


def runnable_platform(engine_platform: str, candidates: Iterable[str]) -> str:
    """The candidate the engine runs natively, else the first one (run under emulation)."""
    ordered = platforms(candidates)
    native = engine_platform.strip().lower()
    return native if native in ordered else ordered[0]
