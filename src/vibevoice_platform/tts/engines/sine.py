"""A deterministic, dependency-free engine for tests: tones whose length follows the text.

Each character gives 50 ms of a tone (divided by speed); the voice sets the pitch. With `pace` > 0 the
chunks are produced at `pace` times real time, which makes slow synthesis, queueing and cancellation
observable in tests without a model. With `first_cpu_s` > 0 each synthesis first spends that much CPU
time in a worker thread, as a model computes before its first audio: on a busy machine it takes
longer in wall time, as real compute does, which a sleep would not.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Mapping

import anyio
import numpy as np

from vibevoice_platform.audio import SAMPLE_RATE, float_to_pcm16
from vibevoice_platform.tts.engines.base import OPENAI_VOICES, Engine

_PITCHES = {"sine-low": 220.0, "sine-mid": 330.0, "sine-high": 440.0}
SECONDS_PER_CHAR = 0.05
CHUNK_SAMPLES = SAMPLE_RATE // 10


class SineEngine(Engine):
    """Deterministic tones, 100 ms per chunk."""

    name = "sine"

    def __init__(self, *, pace: float = 0.0, first_cpu_s: float = 0.0) -> None:
        self._pace = pace
        self._first_cpu_s = first_cpu_s

    @property
    def model(self) -> str:
        return "sine"

    @property
    def native_voices(self) -> tuple[str, ...]:
        return tuple(_PITCHES)

    @property
    def aliases(self) -> Mapping[str, str]:
        natives = self.native_voices
        return {alias: natives[i % len(natives)] for i, alias in enumerate(OPENAI_VOICES)}

    async def synthesize(self, text: str, *, voice: str, speed: float) -> AsyncGenerator[bytes, None]:
        total = max(CHUNK_SAMPLES, int(len(text) * SECONDS_PER_CHAR * SAMPLE_RATE / speed))
        pitch = _PITCHES[voice]
        if self._first_cpu_s > 0:
            await anyio.to_thread.run_sync(_spend_cpu, self._first_cpu_s)
        for start in range(0, total, CHUNK_SAMPLES):
            t = np.arange(start, min(start + CHUNK_SAMPLES, total)) / SAMPLE_RATE
            if self._pace > 0:
                await anyio.sleep(len(t) / SAMPLE_RATE / self._pace)
            else:
                await anyio.lowlevel.checkpoint()
            yield float_to_pcm16(0.3 * np.sin(2 * np.pi * pitch * t))


def _spend_cpu(seconds: float) -> None:
    """Keep this thread on the CPU until it has used `seconds` of CPU time."""
    until = time.thread_time() + seconds
    while time.thread_time() < until:
        pass
