"""The container checks, as Dagger checks over the shipped images the engine built (its own platform).

They are the promises tests/container checks on `make images`' images with docker: non-root, nothing
writable outside /tmp, healthy through the image's own HEALTHCHECK, no compiler or pip cache. The
command lines are in check_scripts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import dagger
from dagger import object_type

from vibevoice_ci.core.decorators import check, function
from vibevoice_ci.core.metadata import BuildInfo
from vibevoice_ci.core.outcomes import Step, raise_for_failures, run_steps
from vibevoice_ci.core.toolchain import Toolchain
from vibevoice_ci.images import check_scripts
from vibevoice_ci.images.binding import bound_services
from vibevoice_ci.images.build import NATIVE, shipped
from vibevoice_ci.images.catalog import SERVICES


class ImageCheckFailed(Exception):
    """A shipped image breaks one of the Dockerfiles' promises."""


@object_type
class ImageChecks:
    """Checks of the shipped images as built: user, filesystem, health, leftovers."""

    toolchain: Toolchain
    platform: str = NATIVE

    @function
    @check
    async def non_root(self) -> None:
        """Each image's user is the unprivileged 10001:10001, and its processes run as uid 10001."""
        for name, image in (await self._images()).items():
            user = await image.user()
            uid = (await image.with_exec(["id", "-u"]).stdout()).strip()
            if (user, uid) != (check_scripts.RUNTIME_USER, check_scripts.RUNTIME_UID):
                raise ImageCheckFailed(f"{name}: user {user!r} runs as uid {uid}")

    @function
    @check
    async def read_only_root(self) -> None:
        """Nothing outside /tmp is writable by the runtime user, so the image runs on a read-only root."""
        for name, image in (await self._images()).items():
            if found := (await image.with_exec(check_scripts.writable_outside()).stdout()).strip():
                raise ImageCheckFailed(f"{name}: writable outside /tmp: {found}")

    @function
    @check
    async def healthy(self) -> None:
        """Each image turns healthy through its own HEALTHCHECK (the agent beside a running TTS)."""
        images = await self._images()
        services = bound_services(images)

        def step(name: str) -> Callable[[], Awaitable[None]]:
            async def run() -> None:
                image = images[name]
                spec = SERVICES[name]
                for dependency in spec.depends_on:
                    image = image.with_service_binding(dependency, services[dependency])
                for key, value in sorted(spec.bound_env.items()):
                    image = image.with_env_variable(key, value)
                config = image.docker_healthcheck()
                probe = check_scripts.healthcheck_command(await config.args(), shell=await config.shell())
                await image.with_exec(check_scripts.healthy(await image.entrypoint(), probe)).sync()

            return run

        raise_for_failures(await run_steps([(name, step(name)) for name in images]), title="healthy")

    @function
    @check
    async def no_build_leftovers(self) -> None:
        """No compiler, build tool, pip cache, wheel or build secret in any shipped image."""
        for name, image in (await self._images()).items():
            found = await image.with_user("0").with_exec(check_scripts.leftovers()).stdout()
            if found.strip():
                raise ImageCheckFailed(f"{name} carries: {found.strip()}")

    async def _images(self) -> dict[str, dagger.Container]:
        return await shipped(self.toolchain, self.platform, BuildInfo())

    def steps(self) -> list[Step]:
        """Its checks as `ci` runs them."""
        return [
            ("non-root", self.non_root),
            ("read-only root", self.read_only_root),
            ("healthy", self.healthy),
            ("no build leftovers", self.no_build_leftovers),
        ]
