"""Binding for the VibeVoice long-form model API as the PyPI `vibevoice` package ships it.

`VibeVoiceForConditionalGenerationInference` with `VibeVoiceProcessor`: a voice is a short speech
sample (a WAV file in the voices folder, as in the package's demo) that the processor places in the
prompt; the text is one speaker's script line. `generate` streams into the streamer one acoustic frame
(3,200 samples, 133 ms at 24 kHz) per step and polls `stop_check_fn` before every step.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from vibevoice_platform.audio import SAMPLE_RATE
from vibevoice_platform.tts.engines.vibevoice_interface import AudioSink, model_text
from vibevoice_platform.tts.engines.vibevoice_runtime import TorchModelBinding, import_attr, import_module

MODEL_MODULE = "vibevoice.modular.modeling_vibevoice_inference"
PROCESSOR_MODULE = "vibevoice.processor.vibevoice_processor"
# What the processor returns that `generate` takes (it also returns the parsed script, for batching).
MODEL_INPUTS = ("input_ids", "attention_mask", "speech_tensors", "speech_masks", "speech_input_mask")


def read_voice_sample(path: Path) -> np.ndarray:
    """A WAV file as float32 mono at 24 kHz, the form the processor takes a voice sample in."""
    wavfile = import_module("scipy.io.wavfile")
    signal = import_module("scipy.signal")
    rate, data = wavfile.read(path)
    samples = np.asarray(data)
    if np.issubdtype(samples.dtype, np.integer):
        samples = samples / float(np.iinfo(samples.dtype).max)
    samples = samples.astype(np.float32)
    if samples.ndim > 1:
        samples = samples.mean(axis=1)
    if rate != SAMPLE_RATE:
        common = math.gcd(int(rate), SAMPLE_RATE)
        samples = signal.resample_poly(samples, SAMPLE_RATE // common, int(rate) // common)
    return np.asarray(samples, dtype=np.float32)


class LongformBinding(TorchModelBinding):
    """`VibeVoiceForConditionalGenerationInference` with voice samples from WAV files."""

    family = "longform"

    def load_model(self, dtype: Any) -> tuple[Any, Any]:
        return self.from_pretrained(
            import_attr(MODEL_MODULE, "VibeVoiceForConditionalGenerationInference"),
            import_attr(PROCESSOR_MODULE, "VibeVoiceProcessor"),
            dtype,
        )

    def load_voices(self) -> dict[str, Any]:
        return {path.stem: read_voice_sample(path) for path in sorted(self.voices_dir.glob("*.wav"))}

    def run_generate(
        self, text: str, preset: Any, streamer: AudioSink, should_stop: Callable[[], bool]
    ) -> None:
        inputs = self.processor(
            text=[f"Speaker 0: {model_text(text)}"],
            voice_samples=[[preset]],
            padding=True,
            return_tensors="pt",
            return_attention_mask=True,
        )
        tensors = {name: inputs[name].to(self.device) for name in MODEL_INPUTS}
        self.model.generate(
            **tensors,
            max_new_tokens=self.max_new_tokens(text),
            cfg_scale=self.cfg_scale,
            tokenizer=self.processor.tokenizer,
            generation_config=self.generation_config(),
            audio_streamer=streamer,
            stop_check_fn=should_stop,
            verbose=False,
            show_progress_bar=False,
        )
