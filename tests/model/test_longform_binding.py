"""The long-form binding loading a model folder from disk, the way a real checkpoint is laid out.

No weights can be fetched here, so the checkpoint is the tiny random model written by
`save_pretrained`, its tokenizer saved beside it (the processor loads a Qwen tokenizer by the name in
`preprocessor_config.json`, which may be a folder) and voices as WAV files.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vibevoice_platform.tts.engines import build_engine
from vibevoice_platform.tts.engines.base import no_progress
from vibevoice_platform.tts.engines.vibevoice import VibeVoiceEngine
from vibevoice_platform.tts.engines.vibevoice_longform import LongformBinding, read_voice_sample
from vibevoice_platform.tts.engines.vibevoice_realtime import MODEL_MODULE as REALTIME_MODULE
from vibevoice_platform.tts.engines.vibevoice_tiny import FRAME_SAMPLES, SPEECH_BIAS, TinyRandomBinding
from vibevoice_platform.tts.settings import TTSSettings

pytestmark = [
    pytest.mark.model,
    pytest.mark.usefixtures("longform_code"),
    pytest.mark.anyio,
    # The package's DPM solver calls np.array() on a torch tensor: numpy 2 warns (the model code's, not ours).
    pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy:DeprecationWarning"),
]


@pytest.fixture(scope="module")
def wavfile() -> Any:
    return importlib.import_module("scipy.io.wavfile")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory, wavfile: Any) -> Path:
    """The tiny random model saved as a model folder, with two WAV voices."""
    tiny = TinyRandomBinding(device="cpu", dtype="float32", cfg_scale=1.5, diffusion_steps=4)
    tiny.load(no_progress)
    root = tmp_path_factory.mktemp("longform")
    model_dir, tokenizer_dir = root / "model", root / "qwen-tiny-tokenizer"
    tiny.model.save_pretrained(model_dir)
    tiny.processor.tokenizer.save_pretrained(tokenizer_dir)
    config = {"speech_tok_compress_ratio": 3200, "language_model_pretrained_name": str(tokenizer_dir)}
    (model_dir / "preprocessor_config.json").write_text(json.dumps(config))
    voices = model_dir / "voices"
    voices.mkdir()
    t = np.arange(16_000) / 16_000
    stereo = np.stack([np.sin(2 * np.pi * 150 * t)] * 2, axis=1) * 0.3 * 32767
    wavfile.write(voices / "en-Hum_low.wav", 16_000, stereo.astype(np.int16))
    wavfile.write(voices / "en-Hum_high.wav", 24_000, (0.2 * np.sin(2 * np.pi * 300 * t)).astype(np.float32))
    return model_dir


class SpeakingLongform(LongformBinding):
    """The long-form binding as shipped, made to speak with random weights the way tiny-random is."""

    def generation_config(self) -> dict[str, Any]:
        diffusion = self.processor.tokenizer.speech_diffusion_id
        return {**super().generation_config(), "sequence_bias": {(diffusion,): SPEECH_BIAS}}

    def max_new_tokens(self, text: str) -> int | None:
        return 12


def test_a_voice_file_becomes_24_khz_mono_float_samples(checkpoint: Path) -> None:
    low = read_voice_sample(checkpoint / "voices" / "en-Hum_low.wav")  # 16 kHz stereo PCM16
    assert (low.dtype, low.shape) == (np.float32, (24_000,))
    assert float(np.abs(low).max()) == pytest.approx(0.3, abs=0.01)
    high = read_voice_sample(checkpoint / "voices" / "en-Hum_high.wav")  # 24 kHz float32
    assert (high.dtype, high.shape) == (np.float32, (16_000,))


async def test_the_longform_binding_loads_a_saved_checkpoint_and_streams_frames(checkpoint: Path) -> None:
    binding = SpeakingLongform(
        model_path=str(checkpoint),
        voices_dir=None,
        device="cpu",
        dtype="auto",
        cfg_scale=1.5,
        diffusion_steps=4,
    )
    engine = VibeVoiceEngine(binding)
    await engine.load()
    assert engine.native_voices == ("en-Hum_high", "en-Hum_low")
    chunks = [
        c async for c in engine.synthesize("Hello from a saved checkpoint.", voice="en-Hum_low", speed=1.0)
    ]
    assert [len(c) for c in chunks] == [FRAME_SAMPLES * 2] * 12
    assert np.abs(np.frombuffer(b"".join(chunks), "<i2")).max() > 0


async def test_auto_loads_the_longform_classes_where_the_realtime_ones_are_absent(
    checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, REALTIME_MODULE, None)  # not importable, as without the cuda image
    engine = build_engine(TTSSettings(engine="vibevoice", model=str(checkpoint), device="cpu"))
    await engine.load()
    assert engine.model == str(checkpoint)
    assert engine.native_voices == ("en-Hum_high", "en-Hum_low")  # WAV voices: the long-form binding
