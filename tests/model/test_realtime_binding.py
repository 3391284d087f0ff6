"""The realtime binding against a stand-in for Microsoft's realtime package (see fake_realtime.py).

The binding, the family choice and the adapter are the real ones, with real torch: the presets are
`.pt` files loaded with torch.load, the frames are tensors.
"""

from __future__ import annotations

import importlib
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.model import fake_realtime
from vibevoice_platform.audio import float_to_pcm16
from vibevoice_platform.tts.engines import build_engine
from vibevoice_platform.tts.engines.vibevoice import WORKER_NAME, VibeVoiceEngine
from vibevoice_platform.tts.engines.vibevoice_bindings import realtime_importable
from vibevoice_platform.tts.settings import TTSSettings

pytestmark = [pytest.mark.model, pytest.mark.anyio]
LEVELS = {"en-Carter_man": 0.25, "en-Emma_woman": -0.5}


@pytest.fixture(scope="module")
def torch() -> Any:
    return importlib.import_module("torch")


@pytest.fixture
def model_dir(tmp_path: Path, torch: Any) -> Path:
    """A model folder as the binding expects one: the processor's config and voice presets."""
    (tmp_path / "preprocessor_config.json").write_text('{"speech_tok_compress_ratio": 3200}')
    voices = tmp_path / "voices"
    voices.mkdir()
    for number, (name, level) in enumerate(LEVELS.items()):
        torch.save(fake_realtime.make_preset(torch, 12 + number, 20 + number, level), voices / f"{name}.pt")
    return tmp_path


async def loaded_engine(model_dir: Path, family: str = "realtime", **settings: Any) -> VibeVoiceEngine:
    flags = {"model": str(model_dir), "model_family": family, "device": "cpu", **settings}
    engine = build_engine(TTSSettings.model_validate({"engine": "vibevoice", **flags}))
    assert isinstance(engine, VibeVoiceEngine)
    await engine.load()
    return engine


def first_samples(chunks: list[bytes]) -> list[int]:
    """Each frame's first PCM16 sample."""
    return [int(np.frombuffer(chunk, "<i2")[0]) for chunk in chunks]


def expected_samples(level: float, frames: range) -> list[int]:
    """What the fake's frames become in PCM16: voice level + frame number / 10,000, in float32."""
    values = np.array([np.float32(level) + np.float32(frame / 10_000) for frame in frames], np.float32)
    return np.frombuffer(float_to_pcm16(values), "<i2").tolist()


def generation_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == WORKER_NAME]


async def test_it_loads_the_model_the_way_microsofts_streaming_demo_does(
    model_dir: Path, torch: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = fake_realtime.install(monkeypatch, torch)
    engine = await loaded_engine(model_dir, diffusion_steps=5)
    assert calls.loaded == [
        {
            "path": str(model_dir),
            "torch_dtype": torch.float32,
            "device_map": "cpu",
            "attn_implementation": "sdpa",
        }
    ]
    assert calls.scheduler == {
        "num_train_timesteps": 1000,
        "algorithm_type": "sde-dpmsolver++",
        "beta_schedule": "squaredcos_cap_v2",
    }
    assert calls.steps == 5
    assert engine.native_voices == ("en-Carter_man", "en-Emma_woman")
    assert engine.resolve_voice("alloy") == "en-Carter_man"


async def test_it_streams_every_frame_in_the_voice_and_drops_what_follows_end_of_speech(
    model_dir: Path, torch: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = fake_realtime.install(monkeypatch, torch)
    engine = await loaded_engine(model_dir, cfg_scale=1.5)
    text = "It\u2019s a short line,\n of ten words for the model."
    expected = 2 * fake_realtime.SPEECH_WINDOW + fake_realtime.EOS_AFTER_TEXT_FRAMES  # 2 text windows
    for _ in range(2):  # the second run proves the cached prompt was copied, not consumed
        chunks = [c async for c in engine.synthesize(text, voice="en-Emma_woman", speed=1.0)]
        assert len(chunks) == expected
        assert {len(chunk) for chunk in chunks} == {fake_realtime.FRAME_SAMPLES * 2}
        assert first_samples(chunks) == expected_samples(-0.5, range(1, expected + 1))
    assert calls.frames_put == 2 * (expected + 3)  # the end of speech came 3 frames before its window
    assert calls.texts == ["It's a short line, of ten words for the model."] * 2
    kwargs = calls.generate_kwargs[-1]
    assert {
        k: kwargs[k] for k in ("max_new_tokens", "cfg_scale", "generation_config", "refresh_negative")
    } == {
        "max_new_tokens": None,
        "cfg_scale": 1.5,
        "generation_config": {"do_sample": False},
        "refresh_negative": True,
    }
    assert isinstance(kwargs["tokenizer"], fake_realtime.FakeTokenizer)
    assert kwargs["tts_text_ids"].shape == (1, 10)


async def test_closing_the_stream_stops_generation_at_the_next_window(
    model_dir: Path, torch: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = fake_realtime.install(monkeypatch, torch, step_s=0.01)
    engine = await loaded_engine(model_dir)
    stream = engine.synthesize("word " * 100, voice="en-Carter_man", speed=1.0)
    received = [await anext(stream), await anext(stream)]
    await stream.aclose()
    assert first_samples(received) == expected_samples(0.25, range(1, 3))
    assert calls.stopped_at_window is not None
    assert calls.stopped_at_window <= 2  # the stop is polled once per window of 6 frames
    assert calls.frames_put <= 3 * fake_realtime.SPEECH_WINDOW
    assert generation_threads() == []


async def test_auto_picks_realtime_when_its_classes_import(
    model_dir: Path, torch: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not realtime_importable()  # the PyPI package has only the long-form classes
    calls = fake_realtime.install(monkeypatch, torch)
    assert realtime_importable()
    engine = await loaded_engine(model_dir, family="auto")
    assert len(calls.loaded) == 1  # the realtime classes were the ones loaded
    assert engine.native_voices == ("en-Carter_man", "en-Emma_woman")
