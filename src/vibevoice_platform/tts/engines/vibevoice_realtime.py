"""Binding for Microsoft's VibeVoice realtime 0.5B streaming model (the cuda image).

The model code is not on PyPI: the cuda image installs it from Microsoft's repository, pinned to a
commit. It is called the way Microsoft's streaming demo server calls it: a voice is a prefilled
prompt cache (`*.pt`: for each of `lm`, `tts_lm`, `neg_lm`, `neg_tts_lm`, a `BaseModelOutputWithPast`
holding a `DynamicCache`), the processor turns text into inputs shaped by that cache, `generate` gets
a deep copy of the cache (it extends the caches it is given), the streamer and `stop_check_fn`, and
the noise scheduler is the SDE DPM-Solver++ with a cosine schedule.

Stopping: the model's loop polls `stop_check_fn` once per text window, that is once per 6 speech
frames (0.8 s of audio). To stop within one step, the streamer it is given checks the stop flag after
each frame it passes on and, once the flag is set, ends the stream and raises `GenerationStopped`,
which unwinds `generate` there (it holds no resource that needs releasing: its caches are the copy).
So at most the frame in flight when the stop came is made after it.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable
from typing import Any

from vibevoice_platform.tts.engines.vibevoice_interface import AudioSink, model_text
from vibevoice_platform.tts.engines.vibevoice_runtime import TorchModelBinding, import_attr

MODEL_MODULE = "vibevoice.modular.modeling_vibevoice_streaming_inference"
PROCESSOR_MODULE = "vibevoice.processor.vibevoice_streaming_processor"


class GenerationStopped(Exception):
    """Raised by `StopEveryStep` to leave the model's `generate` at the frame the stop was seen."""


class StopEveryStep:
    """An `AudioSink` in front of the adapter's, checking `should_stop` after every frame it passes on."""

    def __init__(self, sink: AudioSink, should_stop: Callable[[], bool]) -> None:
        self._sink = sink
        self._should_stop = should_stop

    def put(self, audio_chunks: Any, sample_indices: Any) -> None:
        self._sink.put(audio_chunks, sample_indices)
        if self._should_stop():
            self._sink.end()
            raise GenerationStopped

    def end(self, sample_indices: Any = None) -> None:
        self._sink.end(sample_indices)


class RealtimeBinding(TorchModelBinding):
    """`VibeVoiceStreamingForConditionalGenerationInference` with cached voice prompts."""

    family = "realtime"

    def load_model(self, dtype: Any) -> tuple[Any, Any]:
        model, processor = self.build_model(dtype)
        scheduler = model.model.noise_scheduler
        model.model.noise_scheduler = scheduler.from_config(
            scheduler.config, algorithm_type="sde-dpmsolver++", beta_schedule="squaredcos_cap_v2"
        )
        return model, processor

    def build_model(self, dtype: Any) -> tuple[Any, Any]:
        """The model and its processor, before the demo's noise scheduler replaces the model's own."""
        return self.from_pretrained(
            import_attr(MODEL_MODULE, "VibeVoiceStreamingForConditionalGenerationInference"),
            import_attr(PROCESSOR_MODULE, "VibeVoiceStreamingProcessor"),
            dtype,
        )

    def load_voices(self) -> dict[str, Any]:
        # The presets are pickles (tensors and caches): load only files that come with the image.
        return {
            path.stem: self.torch.load(path, map_location=self.device, weights_only=False)
            for path in sorted(self.voices_dir.glob("*.pt"))
        }

    def run_generate(
        self, text: str, preset: Any, streamer: AudioSink, should_stop: Callable[[], bool]
    ) -> None:
        inputs = self.processor.process_input_with_cached_prompt(
            text=model_text(text),
            cached_prompt=preset,
            padding=True,
            return_tensors="pt",
            return_attention_mask=True,
        )
        inputs = {k: v.to(self.device) if hasattr(v, "to") else v for k, v in inputs.items()}
        with contextlib.suppress(GenerationStopped):
            self.model.generate(
                **inputs,
                max_new_tokens=self.max_new_tokens(text),
                cfg_scale=self.cfg_scale,
                tokenizer=self.processor.tokenizer,
                generation_config=self.generation_config(),
                audio_streamer=StopEveryStep(streamer, should_stop),
                stop_check_fn=should_stop,
                verbose=False,
                show_progress_bar=False,
                refresh_negative=True,
                all_prefilled_outputs=copy.deepcopy(preset),
            )
