"""The shipped images running as services: the TTS, and the agent bound to it.

`dagger call services tts up --ports 8000:8000` serves the TTS on localhost; the smoke test and the
benchmark bind the same services (artifacts.bound_services) under the aliases `tts` and `agent`.
"""

from __future__ import annotations

from collections.abc import Sequence

import dagger
from dagger import object_type

from vibevoice_ci import artifacts
from vibevoice_ci.decorators import function
from vibevoice_ci.metadata import BuildInfo
from vibevoice_ci.services import AGENT, TTS


@object_type
class Services:
    """The TTS (espeak-ng on CPU) and the agent (scripted LLM) as Dagger services."""

    source: dagger.Directory
    platform: str = artifacts.NATIVE
    redirects: Sequence[str] = ()  # air-gapped mode: main's --mirror and --image pairs (mirrors.py)

    @function
    def tts(self) -> dagger.Service:
        """The TTS on port 8000; ready once its image's HEALTHCHECK passes."""
        return self._bound()[TTS.name]

    @function
    def agent(self) -> dagger.Service:
        """The agent on port 8080, bound to the TTS service under the alias `tts`."""
        return self._bound()[AGENT.name]

    def _bound(self) -> dict[str, dagger.Service]:
        return artifacts.bound_services(
            artifacts.shipped(self.source, self.platform, BuildInfo(), self.redirects)
        )
