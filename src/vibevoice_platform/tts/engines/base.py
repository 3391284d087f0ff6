"""The engine interface: text in, mono PCM16 at 24 kHz out, in chunks, as it is made.

`synthesize` is an async generator. Closing it early (the client hung up, the agent interrupted) must
stop the synthesis and free what it holds, so implementations do their cleanup in `finally`.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, Mapping

from vibevoice_platform.audio import SAMPLE_RATE
from vibevoice_platform.tts.errors import UnknownVoiceError

# OpenAI's voice names; each engine maps them onto voices of its own so OpenAI clients work unchanged.
OPENAI_VOICES = (
    "alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer", "verse",
)  # fmt: skip


def cpu_count() -> int:
    """Cores this process may run on (the cgroup/affinity view, not the host's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class Engine(ABC):
    """A loaded synthesis engine."""

    name: str
    sample_rate: int = SAMPLE_RATE
    supports_speed: bool = True

    @property
    @abstractmethod
    def model(self) -> str:
        """What is loaded, for /ready and /v1/models (e.g. 'espeak-ng 1.51')."""

    @property
    @abstractmethod
    def native_voices(self) -> tuple[str, ...]:
        """The engine's own voice names."""

    @property
    @abstractmethod
    def aliases(self) -> Mapping[str, str]:
        """OpenAI voice name → native voice."""

    @property
    def default_voice(self) -> str:
        """The voice used when a request names none."""
        return self.native_voices[0]

    @property
    def default_concurrency(self) -> int:
        """How many syntheses may run at once when MAX_CONCURRENCY is not set."""
        return cpu_count()

    @property
    def voices(self) -> list[str]:
        """Every name a request may use: OpenAI aliases first, then native voices."""
        return [*self.aliases, *self.native_voices]

    def resolve_voice(self, voice: str | None) -> str:
        """The native voice for a requested name; raises UnknownVoiceError."""
        if voice is None:
            return self.default_voice
        if voice in self.native_voices:
            return voice
        native = self.aliases.get(voice.lower())
        if native is None:
            raise UnknownVoiceError(
                f"Unknown voice {voice!r}; GET /v1/audio/voices lists the voices", param="voice"
            )
        return native

    async def load(self) -> None:  # noqa: B027 - a no-op default is the right default
        """Load models or check binaries; called once before the service turns ready."""

    async def aclose(self) -> None:  # noqa: B027
        """Release what `load` acquired."""

    @abstractmethod
    def synthesize(self, text: str, *, voice: str, speed: float) -> AsyncGenerator[bytes, None]:
        """Stream PCM16 chunks for `text` in the native `voice`; never yields an empty chunk."""
