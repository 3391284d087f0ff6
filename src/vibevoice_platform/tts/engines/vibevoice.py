"""The VibeVoice engine: a model's blocking `generate` in a worker thread, its audio streamed to asyncio.

The adapter core is shared by every model binding. A binding wraps one model package and knows how to
load it and call its `generate` with a streamer; the adapter owns the threading, chunk hand-off,
cancellation and PCM conversion:

- `generate` runs in its own thread and writes into `StreamBridge`, an `AudioStreamer` look-alike
  (`put(audio_chunks, sample_indices)`, `end(sample_indices)`), so the model code streams into it
  unchanged. Like VibeVoice's `AudioStreamer`, chunks put after `end` are dropped.
- Each chunk is converted to PCM16 in the worker and handed to the event loop through a small bounded
  buffer: a slow client stalls generation instead of growing memory.
- Closing the stream (hang-up, interrupt) sets the stop flag the binding checks at every step (the
  long-form model's `stop_check_fn`; the realtime binding's streamer, as its model polls only once per
  text window) and closes the buffer, so generation ends within one step; the slot is released only
  after the thread has finished, so at most one generation runs per loaded model.
- The worker is named `vibevoice-gen` for the operating system too (`ps -T`, `top -H`, /proc), and
  each generation ends with one log line: outcome, chunks, chunks the model made after the stop
  request (0 or 1 when it stops within a step), how long it took to stop, and how many samples were
  not finite (NaN turns into silence and inf into clipping in PCM16, so they are counted before).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import sys
import threading
import time
from collections.abc import AsyncGenerator, Mapping
from typing import Any

import anyio
import anyio.from_thread
import anyio.lowlevel
import numpy as np
from anyio.abc import ObjectSendStream

from vibevoice_platform.audio import float_to_pcm16
from vibevoice_platform.tts.engines.base import OPENAI_VOICES, Engine, LoadProgress, no_progress
from vibevoice_platform.tts.engines.vibevoice_interface import ModelBinding
from vibevoice_platform.tts.errors import EngineError, NotReadyError

logger = logging.getLogger(__name__)
BUFFERED_CHUNKS = 4
WORKER_NAME = "vibevoice-gen"  # at most 15 bytes: the kernel's limit for a thread name
_PR_SET_NAME = 15


def _to_float_array(chunk: Any) -> np.ndarray:
    """A model chunk (torch tensor or array-like) as float32 samples, without importing torch."""
    if hasattr(chunk, "detach"):
        chunk = chunk.detach().float().cpu().numpy()
    return np.asarray(chunk, dtype=np.float32).reshape(-1)


def _name_native_thread(name: str) -> None:
    """Give the calling thread `name` in the kernel's view (Linux; elsewhere a no-op)."""
    if sys.platform != "linux":
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(_PR_SET_NAME, name.encode()[:15], 0, 0, 0)


class StreamBridge:
    """An `AudioStreamer` stand-in that forwards PCM16 chunks from the worker thread to the event loop."""

    def __init__(self, send: ObjectSendStream[bytes], stop: threading.Event) -> None:
        self._send = send
        self._stop = stop
        self._ended = False
        self.token = anyio.lowlevel.current_token()
        self.chunks = 0
        self.chunks_after_stop = 0
        self.nonfinite_samples = 0  # NaN or inf from the model (silence or clipping once in PCM16)
        self.stop_requested_at: float | None = None

    def request_stop(self) -> None:
        """Ask the model to stop at its next step (idempotent; the first request's time is kept)."""
        if self.stop_requested_at is None:
            self.stop_requested_at = time.perf_counter()
        self._stop.set()

    def put(self, audio_chunks: Any, sample_indices: Any) -> None:
        """Called by `generate` for each new chunk of a batch; we serve batch size 1."""
        del sample_indices
        if self._ended:
            return
        for chunk in audio_chunks:
            samples = _to_float_array(chunk)
            self.chunks += 1
            self.nonfinite_samples += samples.size - int(np.count_nonzero(np.isfinite(samples)))
            self.write(float_to_pcm16(samples))

    def write(self, pcm: bytes) -> None:
        """Hand one PCM16 chunk to the loop, waiting while the buffer is full."""
        if self._stop.is_set():
            self.chunks_after_stop += 1
            return
        if not pcm:
            return
        try:
            anyio.from_thread.run(self._send.send, pcm, token=self.token)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, RuntimeError):
            self.request_stop()  # the reader is gone: tell the model to stop

    def end(self, sample_indices: Any = None) -> None:
        """Generation of our sample finished (EOS, length or stop): later chunks are dropped."""
        del sample_indices
        self._ended = True


class VibeVoiceEngine(Engine):
    """Serves a VibeVoice model binding; one generation at a time per loaded model."""

    name = "vibevoice"
    speed_range = (1.0, 1.0)  # the model has no rate control

    def __init__(self, binding: ModelBinding) -> None:
        self._binding = binding
        self._loaded = False
        # A semaphore, not a lock: the service takes the first chunk in the request's task and streams
        # the rest from the response's task, and a lock may only be released by the task that took it.
        self._generation_slot = anyio.Semaphore(1)

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

    async def load(self, progress: LoadProgress = no_progress) -> None:
        try:
            await anyio.to_thread.run_sync(self._binding.load, progress)
        except EngineError:
            raise
        except Exception as exc:
            raise EngineError(f"loading {self._binding.model_id} failed: {exc}") from exc
        if not self._binding.voices:
            raise EngineError(f"{self._binding.model_id} has no voice presets")
        self._loaded = True

    async def synthesize(self, text: str, *, voice: str, speed: float) -> AsyncGenerator[bytes, None]:
        del speed  # the model has no rate control; the service rejects speed != 1 for this engine
        if not self._loaded:
            raise NotReadyError("the model is not loaded yet")
        async with self._generation_slot:
            send, receive = anyio.create_memory_object_stream[bytes](BUFFERED_CHUNKS)
            stop = threading.Event()
            bridge = StreamBridge(send, stop)
            errors: list[BaseException] = []
            returned = threading.Event()  # generate came back by itself (done or failed)
            started = time.perf_counter()

            def work() -> None:
                _name_native_thread(WORKER_NAME)
                try:
                    self._binding.generate(text, voice, bridge, stop.is_set)
                except BaseException as exc:  # reported to the caller below
                    errors.append(exc)
                finally:
                    returned.set()
                    with contextlib.suppress(RuntimeError):  # the loop is gone (process shutdown)
                        anyio.from_thread.run_sync(send.close, token=bridge.token)

            worker = threading.Thread(target=work, name=WORKER_NAME, daemon=True)
            worker.start()
            try:
                async with receive:
                    async for chunk in receive:
                        yield chunk
                if errors:
                    raise EngineError(f"generation failed: {errors[0]}") from errors[0]
            finally:
                stopped = not returned.is_set()
                bridge.request_stop()
                receive.close()
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(worker.join)
                self._log_generation(bridge, started, stopped=stopped, failed=bool(errors))

    def _log_generation(self, bridge: StreamBridge, started: float, *, stopped: bool, failed: bool) -> None:
        ended = time.perf_counter()
        requested = bridge.stop_requested_at if stopped else None
        logger.info(
            "generation %s",
            "failed" if failed else "stopped" if stopped else "done",
            extra={
                "model": self._binding.model_id,
                "chunks": bridge.chunks,
                "chunks_after_stop": bridge.chunks_after_stop,
                "nonfinite_samples": bridge.nonfinite_samples,
                "stop_ms": None if requested is None else round((ended - requested) * 1000, 2),
                "generation_ms": round((ended - started) * 1000, 2),
            },
        )
