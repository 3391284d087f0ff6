"""Binding for Microsoft's VibeVoice realtime 0.5B streaming model (the cuda image).

The model code is not on PyPI: the cuda image installs it from Microsoft's repository, pinned to a
commit. It is called the way Microsoft's streaming demo server calls it: a voice is a prefilled
prompt cache (`*.pt`), the processor turns text into inputs shaped by that cache, `generate` gets a
deep copy of the cache, the streamer and `stop_check_fn` (polled once per text window), and the noise
scheduler is the SDE DPM-Solver++ with a cosine schedule.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from vibevoice_platform.tts.engines.vibevoice_interface import AudioSink, model_text
from vibevoice_platform.tts.engines.vibevoice_runtime import TorchModelBinding, import_attr

MODEL_MODULE = "vibevoice.modular.modeling_vibevoice_streaming_inference"
PROCESSOR_MODULE = "vibevoice.processor.vibevoice_streaming_processor"


class RealtimeBinding(TorchModelBinding):
    """`VibeVoiceStreamingForConditionalGenerationInference` with cached voice prompts."""

    family = "realtime"

    def load_model(self, dtype: Any) -> tuple[Any, Any]:
        model, processor = self.from_pretrained(
            import_attr(MODEL_MODULE, "VibeVoiceStreamingForConditionalGenerationInference"),
            import_attr(PROCESSOR_MODULE, "VibeVoiceStreamingProcessor"),
            dtype,
        )
        scheduler = model.model.noise_scheduler
        model.model.noise_scheduler = scheduler.from_config(
            scheduler.config, algorithm_type="sde-dpmsolver++", beta_schedule="squaredcos_cap_v2"
        )
        return model, processor

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
        self.model.generate(
            **inputs,
            max_new_tokens=None,
            cfg_scale=self.cfg_scale,
            tokenizer=self.processor.tokenizer,
            generation_config={"do_sample": False},
            audio_streamer=streamer,
            stop_check_fn=should_stop,
            verbose=False,
            show_progress_bar=False,
            refresh_negative=True,
            all_prefilled_outputs=copy.deepcopy(preset),
        )
