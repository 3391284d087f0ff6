"""vibevoice-smoke against the shipped services, bound as `tts` and `agent` (`smoke`, and a release
before it publishes)."""

from __future__ import annotations

from collections.abc import Mapping

import dagger
from dagger import dag

from vibevoice_ci.core import commands
from vibevoice_ci.images import catalog
from vibevoice_ci.images.binding import bound_services
from vibevoice_ci.images.catalog import AGENT, SERVICES, TTS


def smoke_client(images: Mapping[str, dagger.Container]) -> dagger.Container:
    """The shipped TTS image (it carries vibevoice-smoke) running the smoke against both services."""
    client = images[TTS.name]
    for name, service in bound_services(images).items():
        client = client.with_service_binding(name, service)
    return client.with_exec(commands.smoke(TTS.url, AGENT.url))


async def smoke_native(table: Mapping[tuple[str, str], dagger.Container]) -> None:
    """The smoke on the platform the engine runs natively, of a variants table (nothing is promoted
    if it fails)."""
    wanted = list(dict.fromkeys(platform for _, platform in table))
    native = catalog.runnable_platform(await dag.default_platform(), wanted)
    await smoke_client({name: table[(name, native)] for name in SERVICES}).sync()
