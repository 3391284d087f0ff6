"""The container checks, as Dagger checks over the shipped images the engine built (its own platform).

They are the promises tests/container checks on `make images`' images with docker: non-root, nothing
writable outside /tmp, healthy through the image's own HEALTHCHECK, no compiler or pip cache. The
command lines are in container_checks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import dagger
from dagger import object_type

from vibevoice_ci import artifacts, container_checks
from vibevoice_ci.decorators import check, function
from vibevoice_ci.metadata import BuildInfo
from vibevoice_ci.outcomes import Step, raise_for_failures, run_steps
from vibevoice_ci.services import SERVICES


class ImageCheckFailed(Exception):
    """A shipped image breaks one of the Dockerfiles' promises."""


@object_type
class ImageChecks:
    """Checks of the shipped images as built: user, filesystem, health, leftovers."""

    source: dagger.Directory
    platform: str = artifacts.NATIVE
    redirects: Sequence[str] = ()  # air-gapped mode: main's --mirror and --image pairs (mirrors.py)

    @function
    @check
    async def non_root(self) -> None:
        """Each image's user is the unprivileged 10001:10001, and its processes run as uid 10001."""
        for name, image in self._images().items():
            user = await image.user()
            uid = (await image.with_exec(["id", "-u"]).stdout()).strip()
            if (user, uid) != (container_checks.RUNTIME_USER, container_checks.RUNTIME_UID):
                raise ImageCheckFailed(f"{name}: user {user!r} runs as uid {uid}")

    @function
    @check
    async def read_only_root(self) -> None:
        """Nothing outside /tmp is writable by the runtime user, so the image runs on a read-only root."""
        for name, image in self._images().items():
            if found := (await image.with_exec(container_checks.writable_outside()).stdout()).strip():
                raise ImageCheckFailed(f"{name}: writable outside /tmp: {found}")

    @function
    @check
    async def healthy(self) -> None:
        """Each image turns healthy through its own HEALTHCHECK (the agent beside a running TTS)."""
        images = self._images()
        services = artifacts.bound_services(images)

        def step(name: str) -> Callable[[], Awaitable[None]]:
            async def run() -> None:
                image = images[name]
                spec = SERVICES[name]
                for dependency in spec.depends_on:
                    image = image.with_service_binding(dependency, services[dependency])
                for key, value in sorted(spec.bound_env.items()):
                    image = image.with_env_variable(key, value)
                config = image.docker_healthcheck()
                probe = container_checks.healthcheck_command(await config.args(), shell=await config.shell())
                await image.with_exec(container_checks.healthy(await image.entrypoint(), probe)).sync()

            return run

        raise_for_failures(await run_steps([(name, step(name)) for name in images]), title="healthy")

    @function
    @check
    async def no_build_leftovers(self) -> None:
        """No compiler, build tool, pip cache, wheel or build secret in any shipped image."""
        for name, image in self._images().items():
            found = await image.with_user("0").with_exec(container_checks.leftovers()).stdout()
            if found.strip():
                raise ImageCheckFailed(f"{name} carries: {found.strip()}")

    def _images(self) -> dict[str, dagger.Container]:
        return artifacts.shipped(self.source, self.platform, BuildInfo(), self.redirects)

    def steps(self) -> list[Step]:
        """Its checks as `ci` runs them."""
        return [
            ("non-root", self.non_root),
            ("read-only root", self.read_only_root),
            ("healthy", self.healthy),
            ("no build leftovers", self.no_build_leftovers),
        ]
