from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import anyio
import numpy as np
import pytest

from tests.support.processes import child_pids, child_processes, wait_for
from tests.support.tools import require_tool
from vibevoice_platform.audio import SAMPLE_RATE, duration_seconds, rms_dbfs
from vibevoice_platform.tts.engines import build_engine
from vibevoice_platform.tts.engines.base import cpu_count
from vibevoice_platform.tts.engines.espeak import EspeakEngine
from vibevoice_platform.tts.engines.sine import SECONDS_PER_CHAR, SineEngine
from vibevoice_platform.tts.errors import EngineError, UnknownVoiceError
from vibevoice_platform.tts.settings import TTSSettings

pytestmark = pytest.mark.anyio


async def collect(
    engine: SineEngine | EspeakEngine, text: str, voice: str, speed: float = 1.0
) -> list[bytes]:
    return [chunk async for chunk in engine.synthesize(text, voice=voice, speed=speed)]


async def test_sine_first_cpu_spends_that_much_cpu_before_the_first_chunk() -> None:
    """The stand-in for a model's compute (scripts/bench-noise.py): CPU time, not a sleep, so a busy
    machine stretches it; the audio is that of the plain engine."""
    engine = build_engine(TTSSettings(engine="sine", sine_first_cpu_ms=50))  # the flag's way in
    assert isinstance(engine, SineEngine)
    before = os.times()
    chunks = await collect(engine, "hi", "sine-low")
    spent = (os.times().user - before.user) + (os.times().system - before.system)
    assert spent >= 0.05 - 0.011  # os.times counts in clock ticks (10 ms)
    assert chunks == await collect(SineEngine(), "hi", "sine-low")


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


def _espeak_children() -> dict[int, str]:
    """espeak-ng children of this process: pid → command line."""
    return {
        pid: Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        for pid, name in child_pids(os.getpid()).items()
        if name == "espeak-ng"
    }


async def test_warm_espeak_speaks_from_a_started_process_and_replaces_it_for_the_same_voice() -> None:
    require_tool("espeak-ng", "apt-get install espeak-ng")
    cold, warm = EspeakEngine(), EspeakEngine(warm=1)
    await cold.load()
    await warm.load()
    try:
        [waiting] = _espeak_children()  # started at load, for the default voice, waiting on stdin
        assert "-v en-us " in _espeak_children()[waiting]
        text = "The quick brown fox jumps over the lazy dog."
        pcm = b"".join(await collect(warm, text, "en-us"))
        assert waiting not in _espeak_children()  # it spoke, and is gone
        assert len(pcm) == len(b"".join(await collect(cold, text, "en-us")))  # the same speech
        assert rms_dbfs(pcm) > -35
        b"".join(await collect(warm, text, "en-gb", speed=2.0))
        [replacement] = _espeak_children().values()  # one waiting, for the voice and speed just used
        assert "-v en-gb -s 350" in replacement
    finally:
        await warm.aclose()
    assert _espeak_children() == {}
    assert await collect(warm, "Still speaking after close.", "en-us")  # cold, and none kept
    assert _espeak_children() == {}


@pytest.mark.parametrize(
    ("flags", "waiting"),
    [
        ({}, cpu_count()),  # the service's default: one per slot, and the slots default to the cores
        ({"max_concurrency": 3}, 3),
        ({"max_concurrency": 3, "espeak_warm": 1}, 1),
        ({"max_concurrency": 3, "espeak_warm": 0}, 0),  # off: each request starts its own
    ],
)
async def test_the_service_keeps_one_espeak_waiting_per_slot_unless_told(
    flags: dict[str, int], waiting: int
) -> None:
    require_tool("espeak-ng", "apt-get install espeak-ng")
    engine = build_engine(TTSSettings.model_validate({"engine": "espeak", **flags}))
    await engine.load()
    try:
        assert len(_espeak_children()) == waiting
    finally:
        await engine.aclose()
    assert _espeak_children() == {}


async def test_warm_espeak_hang_up_kills_the_speaker_and_leaves_one_waiting() -> None:
    require_tool("espeak-ng", "apt-get install espeak-ng")
    engine = EspeakEngine(warm=1)
    await engine.load()
    try:
        [waiting] = _espeak_children()
        stream = engine.synthesize("A long text that goes on. " * 400, voice="en-us", speed=1.0)
        await anext(stream)
        assert list(_espeak_children()) == [waiting]  # speaking; its replacement comes after chunk 1
        await stream.aclose()  # the client hung up right after the first chunk
        [other] = _espeak_children()
        assert other != waiting
        os.kill(other, signal.SIGKILL)  # one that dies while waiting is passed over
        assert wait_for(lambda: other not in _espeak_children())
        assert len(b"".join(await collect(engine, "Still here.", "en-us"))) > 0
        assert len(_espeak_children()) == 1
    finally:
        await engine.aclose()
    assert _espeak_children() == {}


async def test_espeak_audio_at_another_rate_is_resampled_from_the_rate_its_header_says(
    tmp_path: Path,
) -> None:
    """The resampler is made for 22.05 kHz before the header arrives; a voice at another rate (an
    mbrola voice speaks at 16 kHz) must still come out at 24 kHz with its own duration."""
    fake = tmp_path / "espeak-ng"
    fake.write_text(
        f"#!{sys.executable}\n"
        "import math, struct, sys\n"
        "if '--version' in sys.argv or '--voices' in sys.argv:\n"
        "    print('eSpeak NG text-to-speech: 1.51  Data at: /x'); sys.exit()\n"
        "sys.stdin.read()\n"
        "pcm = b''.join(struct.pack('<h', int(8000 * math.sin(i / 10))) for i in range(16000))\n"
        "header = struct.pack('<4sI4s4sIHHIIHH4sI', b'RIFF', 36 + len(pcm), b'WAVE', b'fmt ', 16, 1, 1,\n"
        "                     16000, 32000, 2, 16, b'data', len(pcm))\n"
        "sys.stdout.buffer.write(header + pcm)\n"
    )
    fake.chmod(0o755)
    engine = EspeakEngine(binary=str(fake))
    await engine.load()
    pcm = b"".join(await collect(engine, "one second", "en-us"))
    assert duration_seconds(len(pcm)) == pytest.approx(1.0, abs=0.01)
