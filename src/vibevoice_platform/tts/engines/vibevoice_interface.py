"""What a VibeVoice model binding is: the interface the adapter (vibevoice.py) drives.

A binding wraps one model package (Microsoft's realtime classes, the PyPI long-form package, the tiny
random model) and knows how to load it and call its `generate` with a streamer. Everything VibeVoice
imports flows one way from here: this interface, then the torch runtime helpers
(vibevoice_runtime.py), then the bindings (vibevoice_realtime.py, vibevoice_longform.py,
vibevoice_tiny.py), then the choice among them (vibevoice_bindings.py); the adapter needs only this
module.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from vibevoice_platform.tts.engines.base import LoadProgress


class AudioSink(Protocol):
    """What a binding's `generate` writes to: the subset of VibeVoice's `AudioStreamer` it uses."""

    def put(self, audio_chunks: Any, sample_indices: Any) -> None: ...

    def end(self, sample_indices: Any = None) -> None: ...


class ModelBinding(ABC):
    """One model package behind the adapter; every method but the properties blocks (worker thread)."""

    model_id: str

    @property
    @abstractmethod
    def voices(self) -> Sequence[str]:
        """Voice presets available once loaded."""

    @abstractmethod
    def load(self, progress: LoadProgress) -> None:
        """Load weights and voice presets (slow; runs in a worker thread), reporting each step."""

    @abstractmethod
    def generate(self, text: str, voice: str, streamer: AudioSink, should_stop: Callable[[], bool]) -> None:
        """Run generation to completion or until `should_stop()`, streaming into `streamer`."""


def model_text(text: str) -> str:
    """Text as the VibeVoice processors take it: one line, typographic apostrophes made plain."""
    return " ".join(text.replace("\u2019", "'").split())
