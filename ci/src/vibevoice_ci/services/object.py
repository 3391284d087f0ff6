"""The shipped images running as services: the TTS, and the agent bound to it.

`dagger call services tts up --ports 8000:8000` serves the TTS on localhost; the smoke test and the
benchmark bind the same services (images.binding) under the aliases `tts` and `agent`.
"""

from __future__ import annotations

import dagger
from dagger import object_type

from vibevoice_ci.core.decorators import function
from vibevoice_ci.core.metadata import BuildInfo
from vibevoice_ci.core.toolchain import Toolchain
from vibevoice_ci.images.binding import bound_services
from vibevoice_ci.images.build import NATIVE, shipped
from vibevoice_ci.images.catalog import AGENT, TTS


@object_type
class Services:
    """The TTS (espeak-ng on CPU) and the agent (scripted LLM) as Dagger services."""

    toolchain: Toolchain
    platform: str = NATIVE

    @function
    async def tts(self) -> dagger.Service:
        """The TTS on port 8000; ready once its image's HEALTHCHECK passes."""
        return (await self._bound())[TTS.name]

    @function
    async def agent(self) -> dagger.Service:
        """The agent on port 8080, bound to the TTS service under the alias `tts`."""
        return (await self._bound())[AGENT.name]

    async def _bound(self) -> dict[str, dagger.Service]:
        return bound_services(await shipped(self.toolchain, self.platform, BuildInfo()))
