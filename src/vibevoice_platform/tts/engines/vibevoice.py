"""The VibeVoice engine: a model's blocking `generate` in a worker thread, its audio streamed to asyncio.

The adapter core is shared by every model binding. A binding wraps one model package and knows how to
load it and call its `generate` with a streamer; the adapter owns the threading, chunk hand-off,
cancellation and PCM conversion:

- `generate` runs in its own thread and writes into `StreamBridge`, an `AudioStreamer` look-alike
  (`put(audio_chunks, sample_indices)`, `end()`), so the model code streams into it unchanged.
- Each chunk is converted to PCM16 in the worker and handed to the event loop through a small bounded
  buffer: a slow client stalls generation instead of growing memory.
- Closing the stream (hang-up, interrupt) sets the stop flag the model polls between steps
  (`stop_check_fn`) and closes the buffer, so generation ends within one step; the slot is released
  only after the thread has finished, so at most one generation runs per loaded model.
"""

from __future__ import annotations

import contextlib
import threading
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import anyio
import anyio.from_thread
import anyio.lowlevel
from anyio.abc import ObjectSendStream

from vibevoice_platform.audio import float_to_pcm16
from vibevoice_platform.tts.engines.base import OPENAI_VOICES, Engine
from vibevoice_platform.tts.errors import EngineError, NotReadyError

if TYPE_CHECKING:
    from vibevoice_platform.tts.settings import TTSSettings

BUFFERED_CHUNKS = 4


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
    def load(self) -> None:
        """Load weights and voice presets (slow; runs in a worker thread)."""

    @abstractmethod
    def generate(self, text: str, voice: str, streamer: AudioSink, should_stop: Callable[[], bool]) -> None:
        """Run generation to completion or until `should_stop()`, streaming into `streamer`."""


def _to_float_array(chunk: Any) -> Any:
    """A model chunk (torch tensor or array-like) as something numpy reads, without importing torch."""
    if hasattr(chunk, "detach"):
        return chunk.detach().float().cpu().numpy()
    return chunk


class StreamBridge:
    """An `AudioStreamer` stand-in that forwards PCM16 chunks from the worker thread to the event loop."""

    def __init__(self, send: ObjectSendStream[bytes], stop: threading.Event) -> None:
        self._send = send
        self._stop = stop
        self.token = anyio.lowlevel.current_token()

    def put(self, audio_chunks: Any, sample_indices: Any) -> None:
        """Called by `generate` for each new chunk of a batch; we serve batch size 1."""
        del sample_indices
        for chunk in audio_chunks:
            self.write(float_to_pcm16(_to_float_array(chunk)))

    def write(self, pcm: bytes) -> None:
        """Hand one PCM16 chunk to the loop, waiting while the buffer is full."""
        if self._stop.is_set() or not pcm:
            return
        try:
            anyio.from_thread.run(self._send.send, pcm, token=self.token)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, RuntimeError):
            self._stop.set()  # the reader is gone: tell the model to stop

    def end(self, sample_indices: Any = None) -> None:
        """Generation finished (the adapter closes the stream when the thread returns)."""
        del sample_indices


class VibeVoiceEngine(Engine):
    """Serves a VibeVoice model binding; one generation at a time per loaded model."""

    name = "vibevoice"
    supports_speed = False

    def __init__(self, binding: ModelBinding) -> None:
        self._binding = binding
        self._loaded = False
        self._generation_lock = anyio.Lock()

    @property
    def model(self) -> str:
        return self._binding.model_id

    @property
    def native_voices(self) -> tuple[str, ...]:
        return tuple(self._binding.voices)

    @property
    def aliases(self) -> Mapping[str, str]:
        natives = self.native_voices
        if not natives:
            return {}
        return {alias: natives[i % len(natives)] for i, alias in enumerate(OPENAI_VOICES)}

    @property
    def default_concurrency(self) -> int:
        return 1

    async def load(self) -> None:
        try:
            await anyio.to_thread.run_sync(self._binding.load)
        except Exception as exc:
            raise EngineError(f"loading {self._binding.model_id} failed: {exc}") from exc
        if not self._binding.voices:
            raise EngineError(f"{self._binding.model_id} has no voice presets")
        self._loaded = True

    async def synthesize(self, text: str, *, voice: str, speed: float) -> AsyncGenerator[bytes, None]:
        del speed  # the model has no rate control; the service rejects speed != 1 for this engine
        if not self._loaded:
            raise NotReadyError("the model is not loaded yet")
        async with self._generation_lock:
            send, receive = anyio.create_memory_object_stream[bytes](BUFFERED_CHUNKS)
            stop = threading.Event()
            bridge = StreamBridge(send, stop)
            errors: list[BaseException] = []

            def work() -> None:
                try:
                    self._binding.generate(text, voice, bridge, stop.is_set)
                except BaseException as exc:  # reported to the caller below
                    errors.append(exc)
                finally:
                    with contextlib.suppress(RuntimeError):  # the loop is gone (process shutdown)
                        anyio.from_thread.run_sync(send.close, token=bridge.token)

            worker = threading.Thread(target=work, name="vibevoice-generate", daemon=True)
            worker.start()
            try:
                async with receive:
                    async for chunk in receive:
                        yield chunk
                if errors:
                    raise EngineError(f"generation failed: {errors[0]}") from errors[0]
            finally:
                stop.set()
                receive.close()
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(worker.join)


def load_binding(settings: TTSSettings) -> ModelBinding:
    """The binding for the configured model (imports torch and the model package lazily)."""
    from vibevoice_platform.tts.engines.vibevoice_realtime import RealtimeBinding

    if not settings.model:
        raise EngineError("the vibevoice engine needs --model (a local path or a model id)")
    return RealtimeBinding(
        model_path=settings.model,
        voices_dir=settings.voices_dir,
        device=settings.device,
        cfg_scale=settings.cfg_scale,
        diffusion_steps=settings.diffusion_steps,
    )
