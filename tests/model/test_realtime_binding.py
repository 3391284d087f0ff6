"""The realtime binding against a stand-in for Microsoft's realtime package (see fake_realtime.py).

The binding, the family choice and the adapter are the real ones, with real torch and transformers:
the presets are `.pt` files of transformers' outputs and caches loaded with torch.load, the frames are
tensors, the processor's text tokenizer is loaded from a folder the model's config names. Where
Microsoft's package is installed (the cuda image), the fake takes its place for each test.
"""

from __future__ import annotations

import importlib
import json
import logging
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.model import fake_realtime
from vibevoice_platform.audio import float_to_pcm16
from vibevoice_platform.tts.engines import build_engine
from vibevoice_platform.tts.engines.base import no_progress
from vibevoice_platform.tts.engines.vibevoice import WORKER_NAME, VibeVoiceEngine
from vibevoice_platform.tts.engines.vibevoice_bindings import realtime_importable
from vibevoice_platform.tts.engines.vibevoice_longform import MODEL_MODULE as LONGFORM_MODULE
from vibevoice_platform.tts.engines.vibevoice_realtime import MODEL_MODULE as REALTIME_MODULE
from vibevoice_platform.tts.engines.vibevoice_realtime import RealtimeBinding
from vibevoice_platform.tts.engines.vibevoice_tiny import tiny_tokenizer
from vibevoice_platform.tts.errors import EngineError
from vibevoice_platform.tts.settings import TTSSettings

pytestmark = [pytest.mark.model, pytest.mark.anyio]
LEVELS = {"en-Carter_man": 0.25, "en-Emma_woman": -0.5}


@pytest.fixture(scope="module")
def torch() -> Any:
    return importlib.import_module("torch")


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Qwen-style text tokenizer saved as a folder, as the model cache holds Qwen's."""
    folder = tmp_path_factory.mktemp("tokenizer") / "qwen-tiny"
    tiny_tokenizer().save_pretrained(folder)
    return folder


@pytest.fixture
def model_dir(tmp_path: Path, torch: Any, tokenizer_dir: Path) -> Path:
    """A model folder as the binding expects one: the processor's config and voice presets."""
    config = {"speech_tok_compress_ratio": 3200, "language_model_pretrained_name": str(tokenizer_dir)}
    (tmp_path / "preprocessor_config.json").write_text(json.dumps(config))
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
    model_dir: Path, tokenizer_dir: Path, torch: Any, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    calls = fake_realtime.install(monkeypatch, torch)
    with caplog.at_level(logging.INFO, "vibevoice_platform.tts.engines.vibevoice_runtime"):
        engine = await loaded_engine(model_dir, diffusion_steps=5)
    assert calls.loaded == [
        {
            "path": str(model_dir),
            "torch_dtype": torch.float32,
            "device_map": "cpu",
            "attn_implementation": "sdpa",  # no flash_attention_2 on a CPU
        }
    ]
    loaded = next(record for record in caplog.records if record.msg == "model loaded")
    assert (loaded.family, loaded.attention) == ("realtime", "sdpa")
    # The processor is assembled around the text tokenizer its config names, as its from_pretrained does.
    tokenizer = calls.processor.pop("tokenizer")
    assert type(tokenizer).__name__ == "VibeVoiceTextTokenizerFast"
    assert Path(tokenizer.name_or_path) == tokenizer_dir
    assert type(calls.processor.pop("audio_processor")).__name__ == "VibeVoiceTokenizerProcessor"
    assert calls.processor == {"speech_tok_compress_ratio": 3200, "db_normalize": True}
    assert calls.scheduler == {
        "num_train_timesteps": 1000,
        "algorithm_type": "sde-dpmsolver++",
        "beta_schedule": "squaredcos_cap_v2",
    }
    assert calls.steps == 5
    assert engine.native_voices == ("en-Carter_man", "en-Emma_woman")
    assert engine.resolve_voice("alloy") == "en-Carter_man"


async def test_the_tokenizer_setting_replaces_the_one_the_config_names(
    model_dir: Path, tokenizer_dir: Path, torch: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = {"speech_tok_compress_ratio": 3200, "language_model_pretrained_name": "Qwen/Qwen2.5-0.5B"}
    (model_dir / "preprocessor_config.json").write_text(json.dumps(config))
    calls = fake_realtime.install(monkeypatch, torch)
    await loaded_engine(model_dir, tokenizer=str(tokenizer_dir))
    assert Path(calls.processor["tokenizer"].name_or_path) == tokenizer_dir


async def test_it_streams_every_frame_in_the_voice_and_drops_what_follows_end_of_speech(
    model_dir: Path, tokenizer_dir: Path, torch: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = fake_realtime.install(monkeypatch, torch)
    engine = await loaded_engine(model_dir, cfg_scale=1.5)
    text = "It\u2019s a short line,\n of ten words for the model."
    spoken = "It's a short line, of ten words for the model."
    tokens = len(tiny_tokenizer().encode(spoken + "\n", add_special_tokens=False))
    windows = -(-tokens // fake_realtime.TEXT_WINDOW)
    expected = windows * fake_realtime.SPEECH_WINDOW + fake_realtime.EOS_AFTER_TEXT_FRAMES
    for _ in range(2):  # the second run proves the cached prompt was copied, not extended
        chunks = [c async for c in engine.synthesize(text, voice="en-Emma_woman", speed=1.0)]
        assert len(chunks) == expected
        assert {len(chunk) for chunk in chunks} == {fake_realtime.FRAME_SAMPLES * 2}
        assert first_samples(chunks) == expected_samples(-0.5, range(1, expected + 1))
    assert calls.frames_put == 2 * (expected + 3)  # the end of speech came 3 frames before its window
    assert calls.texts == [spoken] * 2
    kwargs = calls.generate_kwargs[-1]
    assert {
        k: kwargs[k] for k in ("max_new_tokens", "cfg_scale", "generation_config", "refresh_negative")
    } == {
        "max_new_tokens": None,
        "cfg_scale": 1.5,
        "generation_config": {"do_sample": False},
        "refresh_negative": True,
    }
    assert kwargs["tokenizer"] is calls.processor["tokenizer"]
    assert kwargs["tts_text_ids"].shape == (1, tokens)


class Recorder:
    """An audio sink that asks for a stop on its `stop_after`-th chunk, as the adapter's does when the
    client has gone."""

    def __init__(self, stop_after: int) -> None:
        self.stop_after = stop_after
        self.chunks: list[Any] = []
        self.ended = 0
        self.stop = threading.Event()

    def put(self, audio_chunks: Any, sample_indices: Any) -> None:
        del sample_indices
        self.chunks.append(audio_chunks)
        if len(self.chunks) == self.stop_after:
            self.stop.set()

    def end(self, sample_indices: Any = None) -> None:
        del sample_indices
        self.ended += 1


@pytest.mark.parametrize("stop_after", [1, 2, 5, 6, 7])
def test_a_stop_ends_generation_at_the_frame_it_is_seen_not_at_the_end_of_the_window(
    stop_after: int, model_dir: Path, torch: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = fake_realtime.install(monkeypatch, torch)
    binding = RealtimeBinding(
        model_path=str(model_dir),
        voices_dir=None,
        device="cpu",
        dtype="float32",
        cfg_scale=1.5,
        diffusion_steps=5,
    )
    binding.load(no_progress)
    sink = Recorder(stop_after)
    binding.generate("word " * 100, "en-Carter_man", sink, sink.stop.is_set)
    # The model's own check, once per window of 6 frames, never came: the streamer stopped it.
    assert (calls.raised, calls.stopped_at_window) == ("GenerationStopped", None)
    assert calls.frames_put == len(sink.chunks) == stop_after
    assert {tuple(chunk.shape) for chunk in sink.chunks} == {(1, 1, fake_realtime.FRAME_SAMPLES)}
    assert sink.ended == 1


async def test_closing_the_stream_stops_generation_within_a_step(
    model_dir: Path, torch: Any, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    calls = fake_realtime.install(monkeypatch, torch, step_s=0.01)
    engine = await loaded_engine(model_dir)
    stream = engine.synthesize("word " * 100, voice="en-Carter_man", speed=1.0)
    with caplog.at_level(logging.INFO, "vibevoice_platform.tts.engines.vibevoice"):
        received = [await anext(stream), await anext(stream)]
        await stream.aclose()
    assert first_samples(received) == expected_samples(0.25, range(1, 3))
    assert calls.frames_put_after_stop <= 1  # the frame in flight when the stop came, and no more
    logged = next(record for record in caplog.records if record.msg == "generation %s")
    assert logged.args == ("stopped",)
    assert logged.chunks_after_stop <= 1
    assert generation_threads() == []


async def test_auto_picks_realtime_when_its_classes_import(
    model_dir: Path, torch: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = fake_realtime.install(monkeypatch, torch)
    assert realtime_importable()
    engine = await loaded_engine(model_dir, family="auto")
    assert len(calls.loaded) == 1  # the realtime classes were the ones loaded
    assert engine.native_voices == ("en-Carter_man", "en-Emma_woman")


@pytest.mark.parametrize(
    ("family", "module", "hint"),
    [
        # as in the cuda image, which has Microsoft's realtime package and not PyPI's long-form one
        ("longform", LONGFORM_MODULE, "make model-deps"),
        # as on the development machines and in the test-model image: Microsoft's is not on PyPI
        ("realtime", REALTIME_MODULE, "not on PyPI"),
    ],
)
async def test_a_family_without_its_model_code_fails_naming_it(
    monkeypatch: pytest.MonkeyPatch, family: str, module: str, hint: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(EngineError, match=f"{module} cannot be imported.*{hint}"):
        await loaded_engine(Path("tiny-random"), family=family)
