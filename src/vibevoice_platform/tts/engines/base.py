"""The engine interface: text in, mono PCM16 at 24 kHz out, in chunks, as it is made.

`synthesize` is an async generator. Closing it early (the client hung up, the agent interrupted) must
stop the synthesis and free what it holds, so implementations do their cleanup in `finally`.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, Callable, Mapping

from vibevoice_platform.audio import SAMPLE_RATE
from vibevoice_platform.tts.errors import UnknownVoiceError

# OpenAI's voice names; each engine maps them onto voices of its own so OpenAI clients work unchanged.
OPENAI_VOICES = (
    "alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer", "verse",
)  # fmt: skip


# How an engine reports a step of its load done (a file read, a part of the model built), with a few
# words saying which; the service watches these for a load that hangs (--load-stall-s). Callable from
# any thread.
LoadProgress = Callable[[str], None]
# OpenAI's speed range, which an engine takes whole unless it says otherwise.
OPENAI_SPEED_RANGE = (0.25, 4.0)


def no_progress(step: str) -> None:
    """A `LoadProgress` that keeps nothing (an engine loaded outside the service)."""
    del step


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
    # The speeds the engine really speaks at, as factors of its normal rate: (1.0, 1.0) when it has no
    # rate control. A request outside them is refused rather than silently clamped.
    speed_range: tuple[float, float] = OPENAI_SPEED_RANGE

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

    async def load(self, progress: LoadProgress = no_progress) -> None:  # noqa: B027 - a no-op default
        """Load models or check binaries, reporting each step to `progress`; called once before the
        service turns ready."""

    async def aclose(self) -> None:  # noqa: B027
        """Release what `load` acquired."""

    @abstractmethod
    def synthesize(self, text: str, *, voice: str, speed: float) -> AsyncGenerator[bytes, None]:
        """Stream PCM16 chunks for `text` in the native `voice`; never yields an empty chunk."""
