"""The VibeVoice pipeline as Dagger functions: lint, test, build, images, services, smoke, publish, ci.

This file only wires containers, caches, secrets and services. What they run, what they are called
and how results read comes from the pure modules beside it (commands, tags, metadata, services,
outcomes), which are tested without an engine.
"""

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Annotated

import anyio
import dagger
from dagger import DefaultPath, Doc, Ignore, dag, object_type

from vibevoice_ci import commands, services, toolchain
from vibevoice_ci.decorators import check, function
from vibevoice_ci.metadata import (
    DEV_VERSION,
    BuildInfo,
    build_args,
    build_info,
    oci_annotations,
    release_build_info,
)
from vibevoice_ci.outcomes import raise_for_failures, run_steps
from vibevoice_ci.services import AGENT, DEFAULT_PLATFORMS, SERVICES, TEST_TARGET, TTS, ServiceSpec
from vibevoice_ci.tags import image_references

NATIVE_PLATFORM = "linux/amd64"

ServiceArg = Annotated[str, Doc("tts or agent")]
PlatformArg = Annotated[str, Doc("os/arch to build for, e.g. linux/amd64 or linux/arm64")]
PlatformsArg = Annotated[Sequence[str], Doc("platforms to build for")]


@object_type
class Vibevoice:
    """CI/CD of the VibeVoice voice platform: the same pipeline on a laptop and in GitHub Actions."""

    source: Annotated[
        dagger.Directory,
        DefaultPath("/"),
        Ignore(list(toolchain.SOURCE_IGNORE)),
        Doc("the repository (defaults to the one holding dagger.json)"),
    ]

    # -- lint ------------------------------------------------------------------------------------

    @function
    async def lint_env(self) -> dagger.Container:
        """A Python with the ruff version the dev extra pins, and the source: where lint runs."""
        pyproject = await self.source.file("pyproject.toml").contents()
        return self._lint_env(commands.dev_requirement(pyproject, "ruff"))

    @function
    @check
    async def lint(self) -> None:
        """ruff check and ruff format --check over src/, tests/ and ci/."""
        env = await self.lint_env()
        await env.with_exec(commands.ruff_check()).with_exec(commands.ruff_format_check()).sync()

    # -- test ------------------------------------------------------------------------------------

    @function
    def test_env(
        self, service: ServiceArg = TTS.name, platform: PlatformArg = NATIVE_PLATFORM
    ) -> dagger.Container:
        """The service's test image (its runtime, the dev extra and the tests) before pytest runs."""
        return self._image(services.service_spec(service), platform, TEST_TARGET, BuildInfo())

    @function
    @check
    def test(
        self, service: ServiceArg = TTS.name, platform: PlatformArg = NATIVE_PLATFORM
    ) -> dagger.Container:
        """pytest (unit and integration) inside the service's test image; JUnit XML in the result."""
        return self.test_env(service, platform).with_exec(commands.pytest())

    @function
    def test_report(
        self, service: ServiceArg = TTS.name, platform: PlatformArg = NATIVE_PLATFORM
    ) -> dagger.File:
        """The JUnit XML report of a test run, whether the tests passed or failed."""
        run = self.test_env(service, platform).with_exec(commands.pytest(), expect=dagger.ReturnType.ANY)
        return run.file(commands.JUNIT_REPORT)

    # -- build -----------------------------------------------------------------------------------

    @function
    def build(
        self,
        *,
        service: ServiceArg,
        platform: PlatformArg = NATIVE_PLATFORM,
        target: Annotated[str, Doc("Dockerfile stage; empty: the shipped one (tts: cpu, agent: agent)")] = "",
        version: Annotated[str, Doc("org.opencontainers.image.version")] = DEV_VERSION,
        revision: Annotated[str, Doc("the commit id")] = "",
        created: Annotated[str, Doc("the commit time, ISO 8601 with offset (git log -1 --format=%cI)")] = "",
        source_url: Annotated[str, Doc("the repository's URL")] = "",
    ) -> dagger.Container:
        """One service's image from its Dockerfile, with OCI labels and annotations."""
        info = build_info(version=version, revision=revision, created=created, source=source_url)
        return self._image(services.service_spec(service), platform, target, info)

    @function
    async def images(self, platforms: PlatformsArg = DEFAULT_PLATFORMS) -> list[dagger.Container]:
        """Every shipped image for every platform, built concurrently."""
        built = [image for variants in self._variants(platforms, BuildInfo()).values() for image in variants]
        async with anyio.create_task_group() as group:
            for image in built:
                group.start_soon(image.sync)
        return built

    # -- services and smoke ----------------------------------------------------------------------

    @function
    def tts_service(self, platform: PlatformArg = NATIVE_PLATFORM) -> dagger.Service:
        """The TTS (espeak-ng on CPU) on port 8000; ready once its image's HEALTHCHECK passes."""
        return self._services(self._shipped(platform, BuildInfo()))[TTS.name]

    @function
    def agent_service(self, platform: PlatformArg = NATIVE_PLATFORM) -> dagger.Service:
        """The agent (scripted LLM) on port 8080, bound to the TTS service under the alias `tts`."""
        return self._services(self._shipped(platform, BuildInfo()))[AGENT.name]

    @function
    @check
    async def smoke(self, platform: PlatformArg = NATIVE_PLATFORM) -> None:
        """vibevoice-smoke against both services bound as `tts` and `agent`; a failure raises."""
        await self._smoke_client(self._shipped(platform, BuildInfo())).sync()

    # -- publish and ci --------------------------------------------------------------------------

    @function(cache="never")
    async def publish(
        self,
        *,
        registry: Annotated[str, Doc("registry host, e.g. ghcr.io")],
        repository: Annotated[str, Doc("repository path, e.g. owner/project (lowercased)")],
        username: Annotated[str, Doc("registry user")],
        password: Annotated[dagger.Secret, Doc("registry password or token, e.g. env://GITHUB_TOKEN")],
        ref: Annotated[str, Doc("git ref, e.g. refs/heads/main or refs/tags/v1.2.3")],
        sha: Annotated[str, Doc("the commit id")],
        created: Annotated[str, Doc("the commit time, ISO 8601 with offset (git log -1 --format=%cI)")] = "",
        source_url: Annotated[str, Doc("the repository's URL, e.g. https://github.com/owner/project")] = "",
        platforms: PlatformsArg = DEFAULT_PLATFORMS,
    ) -> list[str]:
        """Smoke the release images, then push each service as one multi-platform image per tag.

        Returns the published references with their digests. Nothing is pushed if the smoke fails.
        """
        references = {name: image_references(registry, repository, name, ref, sha) for name in SERVICES}
        info = release_build_info(ref=ref, sha=sha, created=created, source=source_url)
        variants = self._variants(platforms, info)
        wanted = services.platforms(platforms)
        native = wanted.index(services.runnable_platform(await dag.default_platform(), wanted))
        await self._smoke_client({name: images[native] for name, images in variants.items()}).sync()

        publisher = self._registry(registry, username, password)
        published: list[str] = []
        for name, tagged in references.items():
            for reference in tagged:
                published.append(await publisher.publish(reference, platform_variants=variants[name]))
        return published

    @function
    async def ci(self) -> str:
        """lint, test (each service), images and smoke, concurrently; a summary of what passed."""
        steps = [
            ("lint", self.lint),
            *((f"test {name}", self._test_step(name)) for name in SERVICES),
            ("images", self.images),
            ("smoke", self.smoke),
        ]
        return raise_for_failures(await run_steps(steps))

    # -- wiring (plain methods: not part of the module's API) -------------------------------------

    def _lint_env(self, ruff_requirement: str) -> dagger.Container:
        return (
            dag.container()
            .from_(toolchain.PYTHON_IMAGE)
            .with_mounted_cache(toolchain.PIP_CACHE_PATH, dag.cache_volume(toolchain.PIP_CACHE_VOLUME))
            .with_exec(commands.pip_install([ruff_requirement]))
            .with_directory(toolchain.WORKDIR, self.source)
            .with_workdir(toolchain.WORKDIR)
        )

    @staticmethod
    def _registry(registry: str, username: str, password: dagger.Secret) -> dagger.Container:
        """An empty container holding the registry credentials: it publishes the platform variants."""
        return dag.container().with_registry_auth(registry, username, password)

    def _test_step(self, service: str) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            await self.test(service).sync()

        return run

    def _image(self, spec: ServiceSpec, platform: str, target: str, info: BuildInfo) -> dagger.Container:
        """`docker build` of the service's Dockerfile at `target`, labelled and annotated."""
        (checked,) = services.platforms([platform])
        image = self.source.docker_build(
            dockerfile=spec.dockerfile,
            platform=dagger.Platform(checked),
            target=spec.target(target),
            build_args=[dagger.BuildArg(name=key, value=value) for key, value in build_args(info).items()],
        )
        for key, value in oci_annotations(spec.name, info).items():
            image = image.with_label(key, value).with_annotation(key, value)
        return image

    def _shipped(self, platform: str, info: BuildInfo) -> dict[str, dagger.Container]:
        """Each service's shipped image for one platform."""
        return {
            name: self._image(spec, platform, spec.shipped_target, info) for name, spec in SERVICES.items()
        }

    def _variants(self, platforms: Sequence[str], info: BuildInfo) -> dict[str, list[dagger.Container]]:
        """Each service's shipped image for every platform (defined lazily; nothing is built yet)."""
        wanted = services.platforms(platforms)
        return {
            name: [self._image(spec, platform, spec.shipped_target, info) for platform in wanted]
            for name, spec in SERVICES.items()
        }

    @staticmethod
    def _services(images: Mapping[str, dagger.Container]) -> dict[str, dagger.Service]:
        """The images as services, each bound to the services it depends on under their names."""
        started: dict[str, dagger.Service] = {}
        for name, spec in SERVICES.items():  # the table lists dependencies first
            image = images[name]
            for dependency in spec.depends_on:
                image = image.with_service_binding(dependency, started[dependency])
            for key, value in sorted(spec.bound_env.items()):
                image = image.with_env_variable(key, value)
            started[name] = image.with_exposed_port(spec.port).as_service(use_entrypoint=True)
        return started

    def _smoke_client(self, images: Mapping[str, dagger.Container]) -> dagger.Container:
        """The shipped TTS image (it carries vibevoice-smoke) running the smoke against both services."""
        client = images[TTS.name]
        for name, service in self._services(images).items():
            client = client.with_service_binding(name, service)
        return client.with_exec(commands.smoke(TTS.url, AGENT.url))
