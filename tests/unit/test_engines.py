from __future__ import annotations

import os

import anyio
import numpy as np
import pytest

from tests.support.processes import child_processes
from tests.support.tools import require_tool
from vibevoice_platform.audio import SAMPLE_RATE, duration_seconds, rms_dbfs
from vibevoice_platform.tts.engines.espeak import EspeakEngine
from vibevoice_platform.tts.engines.sine import SECONDS_PER_CHAR, SineEngine
from vibevoice_platform.tts.errors import EngineError, UnknownVoiceError

pytestmark = pytest.mark.anyio


async def collect(
    engine: SineEngine | EspeakEngine, text: str, voice: str, speed: float = 1.0
) -> list[bytes]:
    return [chunk async for chunk in engine.synthesize(text, voice=voice, speed=speed)]


async def test_sine_is_deterministic_and_its_length_follows_text_and_speed() -> None:
    engine = SineEngine()
    first = await collect(engine, "hello world", "sine-low")
    assert first == await collect(engine, "hello world", "sine-low")
    assert first != await collect(engine, "hello world", "sine-high")
    seconds = duration_seconds(sum(map(len, first)))
    assert seconds == pytest.approx(11 * SECONDS_PER_CHAR, abs=0.001)
    fast = await collect(engine, "hello world", "sine-low", speed=2.0)
    assert duration_seconds(sum(map(len, fast))) == pytest.approx(seconds / 2, abs=0.001)
    assert all(len(chunk) <= SAMPLE_RATE // 10 * 2 for chunk in first)


async def test_voice_resolution() -> None:
    engine = SineEngine()
    assert engine.resolve_voice(None) == "sine-low"
    assert engine.resolve_voice("NOVA") == engine.aliases["nova"]
    assert engine.resolve_voice("sine-mid") == "sine-mid"
    with pytest.raises(UnknownVoiceError, match="Unknown voice 'robot'"):
        engine.resolve_voice("robot")


async def test_espeak_speaks_real_audio_at_24khz() -> None:
    require_tool("espeak-ng", "apt-get install espeak-ng")
    engine = EspeakEngine()
    await engine.load()
    assert engine.model.startswith("espeak-ng 1.")
    assert "en-gb" in engine.native_voices
    assert engine.resolve_voice("en-gb+f2") == "en-gb+f2"
    chunks = await collect(engine, "The quick brown fox jumps over the lazy dog.", "en-us")
    pcm = b"".join(chunks)
    assert len(chunks) > 1
    assert 1.5 < duration_seconds(len(pcm)) < 5.0
    assert rms_dbfs(pcm) > -35
    slower = b"".join(await collect(engine, "The quick brown fox jumps over the lazy dog.", "en-us", 0.5))
    assert len(slower) > 1.6 * len(pcm)


async def test_espeak_is_killed_when_the_stream_is_closed_early() -> None:
    require_tool("espeak-ng", "apt-get install espeak-ng")
    engine = EspeakEngine()
    await engine.load()
    stream = engine.synthesize("A long text that goes on. " * 400, voice="en-us", speed=1.0)
    await anext(stream)
    assert "espeak-ng" in child_processes(os.getpid())
    await stream.aclose()
    assert "espeak-ng" not in child_processes(os.getpid())


async def test_espeak_missing_binary_fails_load_with_a_hint() -> None:
    with pytest.raises(EngineError, match="install the espeak-ng package"):
        await EspeakEngine(binary="no-such-espeak").load()


async def test_espeak_stream_of_silence_free_audio_keeps_samples_aligned() -> None:
    require_tool("espeak-ng", "apt-get install espeak-ng")
    engine = EspeakEngine()
    await engine.load()
    with anyio.fail_after(10):
        chunks = await collect(engine, "One. Two. Three.", "en-us")
    assert all(len(chunk) % 2 == 0 for chunk in chunks)
    samples = np.frombuffer(b"".join(chunks), "<i2")
    assert np.abs(samples).max() > 1000
