"""The VibeVoice adapter core against a fake model binding shaped like the real one.

The fake's `generate` blocks like a model does, polls `should_stop` between steps the way VibeVoice's
`stop_check_fn` is polled, and writes float chunks (and tensor-like chunks) into the streamer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import anyio
import numpy as np
import pytest

from vibevoice_platform.tts.engines.vibevoice import AudioSink, ModelBinding, VibeVoiceEngine
from vibevoice_platform.tts.errors import EngineError, NotReadyError

pytestmark = pytest.mark.anyio
STEP_SAMPLES = 3200


class FakeTensor:
    """Duck-types the torch calls the adapter makes: detach().float().cpu().numpy()."""

    def __init__(self, values: np.ndarray) -> None:
        self._values = values

    def detach(self) -> FakeTensor:
        return self

    def float(self) -> FakeTensor:
        return self

    def cpu(self) -> FakeTensor:
        return self

    def numpy(self) -> np.ndarray:
        return self._values


class FakeBinding(ModelBinding):
    def __init__(self, steps: int = 10, step_s: float = 0.01, fail_at: int | None = None) -> None:
        self.model_id = "fake/vibevoice"
        self.steps = steps
        self.step_s = step_s
        self.fail_at = fail_at
        self.loaded = False
        self.steps_done = 0
        self.stopped_at: int | None = None
        self.running = 0
        self.max_running = 0
        self.threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    @property
    def voices(self) -> Sequence[str]:
        return ("en-Carter_man", "en-Emma_woman") if self.loaded else ()

    def load(self) -> None:
        time.sleep(0.01)
        self.loaded = True

    def generate(self, text: str, voice: str, streamer: AudioSink, should_stop: Callable[[], bool]) -> None:
        with self._lock:
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        self.threads.append(threading.current_thread())
        try:
            for step in range(self.steps):
                if should_stop():
                    self.stopped_at = step
                    return
                if step == self.fail_at:
                    raise RuntimeError("CUDA error: device-side assert triggered")
                time.sleep(self.step_s)
                value = (step + 1) / (self.steps + 1)
                chunk: Any = np.full(STEP_SAMPLES, value, dtype=np.float32)
                streamer.put([FakeTensor(chunk) if step % 2 else chunk], [0])
                self.steps_done = step + 1
            streamer.end()
        finally:
            with self._lock:
                self.running -= 1


async def loaded(binding: FakeBinding) -> VibeVoiceEngine:
    engine = VibeVoiceEngine(binding)
    await engine.load()
    return engine


async def test_streams_pcm16_chunks_while_generation_is_still_running() -> None:
    binding = FakeBinding(steps=10, step_s=0.02)
    engine = await loaded(binding)
    chunks: list[bytes] = []
    steps_at_first: int | None = None
    async for chunk in engine.synthesize("hello", voice="en-Carter_man", speed=1.0):
        if steps_at_first is None:
            steps_at_first = binding.steps_done
        chunks.append(chunk)
    assert steps_at_first is not None
    assert steps_at_first < binding.steps
    assert len(chunks) == binding.steps
    first = np.frombuffer(chunks[0], "<i2")
    assert first.size == STEP_SAMPLES
    assert int(first[0]) == int(1 / 11 * 32767)
    assert int(np.frombuffer(chunks[1], "<i2")[0]) == int(2 / 11 * 32767)  # tensor-like chunk


async def test_closing_the_stream_stops_generation_within_a_step() -> None:
    binding = FakeBinding(steps=200, step_s=0.01)
    engine = await loaded(binding)
    stream = engine.synthesize("long text", voice="en-Emma_woman", speed=1.0)
    received = 0
    async for _ in stream:
        received += 1
        if received == 3:
            break
    await stream.aclose()
    assert binding.stopped_at is not None
    assert binding.stopped_at <= received + 4  # the bounded buffer plus the step in flight
    assert all(not thread.is_alive() for thread in binding.threads)


async def test_one_generation_at_a_time_per_model() -> None:
    binding = FakeBinding(steps=5, step_s=0.01)
    engine = await loaded(binding)

    async def consume() -> int:
        return len([c async for c in engine.synthesize("x", voice="en-Carter_man", speed=1.0)])

    counts: list[int] = []

    async def run() -> None:
        counts.append(await consume())

    async with anyio.create_task_group() as tg:
        for _ in range(3):
            tg.start_soon(run)
    assert counts == [5, 5, 5]
    assert binding.max_running == 1


async def test_a_model_error_becomes_an_engine_error() -> None:
    engine = await loaded(FakeBinding(steps=5, fail_at=2))
    with pytest.raises(EngineError, match="CUDA error"):
        async for _ in engine.synthesize("x", voice="en-Carter_man", speed=1.0):
            pass


async def test_not_ready_before_load_and_voices_after() -> None:
    binding = FakeBinding()
    engine = VibeVoiceEngine(binding)
    with pytest.raises(NotReadyError):
        async for _ in engine.synthesize("x", voice="en-Carter_man", speed=1.0):
            pass
    await engine.load()
    assert engine.native_voices == ("en-Carter_man", "en-Emma_woman")
    assert engine.resolve_voice("alloy") == "en-Carter_man"
    assert engine.default_concurrency == 1
    assert engine.supports_speed is False


async def test_load_failure_is_reported() -> None:
    class Broken(FakeBinding):
        def load(self) -> None:
            raise OSError("no such file: /models/VibeVoice-Realtime-0.5B/config.json")

    with pytest.raises(EngineError, match=r"config\.json"):
        await VibeVoiceEngine(Broken()).load()
