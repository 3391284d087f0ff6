"""The VibeVoice adapter core against a fake model binding shaped like the real one.

The fake's `generate` blocks like a model does, polls `should_stop` between steps the way VibeVoice's
`stop_check_fn` is polled, and writes float chunks (and tensor-like chunks) into the streamer.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import anyio
import numpy as np
import pytest
from pydantic import ValidationError

from vibevoice_platform.tts.engines.base import LoadProgress
from vibevoice_platform.tts.engines.vibevoice import VibeVoiceEngine
from vibevoice_platform.tts.engines.vibevoice_bindings import AutoBinding, binding_for
from vibevoice_platform.tts.engines.vibevoice_interface import AudioSink, ModelBinding
from vibevoice_platform.tts.engines.vibevoice_longform import LongformBinding
from vibevoice_platform.tts.engines.vibevoice_realtime import RealtimeBinding
from vibevoice_platform.tts.engines.vibevoice_runtime import resolve_attention
from vibevoice_platform.tts.engines.vibevoice_tiny import TinyRandomBinding, TinyRealtimeBinding
from vibevoice_platform.tts.errors import EngineError, NotReadyError
from vibevoice_platform.tts.settings import TTSSettings

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
    def __init__(
        self,
        steps: int = 10,
        step_s: float = 0.01,
        fail_at: int | None = None,
        after_first: threading.Event | None = None,
    ) -> None:
        self.model_id = "fake/vibevoice"
        self.steps = steps
        self.step_s = step_s
        self.fail_at = fail_at
        self.after_first = after_first  # set: generation waits after its first chunk until it is set
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

    def load(self, progress: LoadProgress) -> None:
        time.sleep(0.01)
        self.loaded = True
        progress("loaded")

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
                self.steps_done = step + 1
                streamer.put([FakeTensor(chunk) if step % 2 else chunk], [0])
                if step == 0 and self.after_first is not None:
                    self.after_first.wait(timeout=30)
            streamer.end()
        finally:
            with self._lock:
                self.running -= 1


async def loaded(binding: FakeBinding) -> VibeVoiceEngine:
    engine = VibeVoiceEngine(binding)
    await engine.load()
    return engine


async def test_streams_pcm16_chunks_while_generation_is_still_running() -> None:
    # The model holds after its first step until that step's audio has reached the reader: a buffered
    # adapter would wait for the whole generation and the model would wait for it (30 s, then fail).
    first_seen = threading.Event()
    binding = FakeBinding(steps=10, step_s=0.0, after_first=first_seen)
    engine = await loaded(binding)
    chunks: list[bytes] = []
    steps_at_first: int | None = None
    async for chunk in engine.synthesize("hello", voice="en-Carter_man", speed=1.0):
        if steps_at_first is None:
            steps_at_first = binding.steps_done
            first_seen.set()
        chunks.append(chunk)
    assert steps_at_first == 1
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
    assert engine.speed_range == (1.0, 1.0)


async def test_load_failure_is_reported() -> None:
    class Broken(FakeBinding):
        def load(self, progress: LoadProgress) -> None:
            raise OSError("no such file: /models/VibeVoice-Realtime-0.5B/config.json")

    with pytest.raises(EngineError, match=r"config\.json"):
        await VibeVoiceEngine(Broken()).load()


class EndsEarlyBinding(FakeBinding):
    """Ends its sample mid-way and goes on putting chunks, as VibeVoice's realtime loop does."""

    def generate(self, text: str, voice: str, streamer: AudioSink, should_stop: Callable[[], bool]) -> None:
        for step in range(self.steps):
            streamer.put([np.full(STEP_SAMPLES, 0.5, dtype=np.float32)], [0])
            if step == 2:
                streamer.end([0])
        streamer.end()


async def test_chunks_put_after_end_are_dropped_like_audio_streamers() -> None:
    engine = await loaded(EndsEarlyBinding(steps=6))
    chunks = [c async for c in engine.synthesize("x", voice="en-Carter_man", speed=1.0)]
    assert len(chunks) == 3


async def test_the_stream_may_be_read_from_another_task_than_the_one_that_started_it() -> None:
    # The service takes the first chunk in the request's task and streams the rest from the response's.
    engine = await loaded(FakeBinding(steps=4))
    stream = engine.synthesize("x", voice="en-Carter_man", speed=1.0)
    first = await anext(stream)
    rest: list[bytes] = []

    async def read_rest() -> None:
        rest.extend([chunk async for chunk in stream])

    async with anyio.create_task_group() as tg:
        tg.start_soon(read_rest)
    assert len([first, *rest]) == 4
    again = [c async for c in engine.synthesize("x", voice="en-Carter_man", speed=1.0)]
    assert len(again) == 4  # the generation slot was given back


async def test_each_generation_is_logged_with_what_the_model_did_after_the_stop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    binding = FakeBinding(steps=200, step_s=0.01)
    engine = await loaded(binding)
    with caplog.at_level(logging.INFO, logger="vibevoice_platform.tts.engines.vibevoice"):
        stream = engine.synthesize("long", voice="en-Carter_man", speed=1.0)
        await anext(stream)
        await stream.aclose()
    stopped = caplog.records[-1]
    assert stopped.getMessage() == "generation stopped"
    assert stopped.__dict__["chunks_after_stop"] <= 1
    assert stopped.__dict__["stop_ms"] >= 0
    assert stopped.__dict__["nonfinite_samples"] == 0


async def test_non_finite_samples_are_counted_before_pcm16_hides_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class NaNBinding(FakeBinding):
        def generate(
            self, text: str, voice: str, streamer: AudioSink, should_stop: Callable[[], bool]
        ) -> None:
            streamer.put([np.array([0.1, np.nan, np.inf, -np.inf], dtype=np.float32)], [0])

    engine = await loaded(NaNBinding())
    with caplog.at_level(logging.INFO, logger="vibevoice_platform.tts.engines.vibevoice"):
        chunks = [c async for c in engine.synthesize("x", voice="en-Carter_man", speed=1.0)]
    assert np.frombuffer(chunks[0], "<i2").tolist() == [3276, 0, 32767, -32767]
    done = caplog.records[-1]
    assert done.getMessage() == "generation done"
    assert done.__dict__["nonfinite_samples"] == 3


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ({"model": "tiny-random"}, AutoBinding),
        ({"model": "tiny-random", "model_family": "longform"}, TinyRandomBinding),
        ({"model": "tiny-random", "model_family": "realtime"}, TinyRealtimeBinding),
        ({"model": "/models/VibeVoice-Realtime-0.5B", "model_family": "realtime"}, RealtimeBinding),
        ({"model": "/models/VibeVoice-1.5B", "model_family": "longform"}, LongformBinding),
        ({"model": "/models/any"}, AutoBinding),
    ],
)
def test_the_binding_follows_the_model_and_family(flags: dict[str, str], expected: type) -> None:
    binding = binding_for(TTSSettings.model_validate({"engine": "vibevoice", **flags}))  # imports nothing
    assert type(binding) is expected
    assert binding.model_id == flags["model"]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({}, "needs --model"),
    ],
)
def test_impossible_model_settings_are_refused_with_the_settings(flags: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        TTSSettings.model_validate({"engine": "vibevoice", **flags})


@pytest.fixture
def flash_attn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An importable `flash_attn` package (the real one needs a CUDA build to install)."""
    (tmp_path / "flash_attn").mkdir()
    (tmp_path / "flash_attn" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))


@pytest.mark.usefixtures("flash_attn")
@pytest.mark.parametrize(
    ("requested", "device", "expected"),
    [("auto", "cuda", "flash_attention_2"), ("auto", "cpu", "sdpa"), ("sdpa", "cuda", "sdpa")],
)
def test_attention_is_flash_attention_on_cuda_when_flash_attn_imports(
    requested: str, device: str, expected: str
) -> None:
    assert resolve_attention(requested, device) == expected


def test_without_flash_attn_cuda_gets_sdpa_and_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    assert importlib.util.find_spec("flash_attn") is None
    with caplog.at_level(logging.WARNING, logger="vibevoice_platform.tts.engines.vibevoice_runtime"):
        assert resolve_attention("auto", "cuda:0") == "sdpa"
    assert "SDPA attention, which may lower audio quality" in caplog.text
    with pytest.raises(EngineError, match="flash_attn package is missing"):
        resolve_attention("flash_attention_2", "cuda")


@pytest.mark.usefixtures("flash_attn")
def test_flash_attention_on_a_cpu_is_refused() -> None:
    with pytest.raises(EngineError, match="flash_attention_2 needs a CUDA device, not 'cpu'"):
        resolve_attention("flash_attention_2", "cpu")
