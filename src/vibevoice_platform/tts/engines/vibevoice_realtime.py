"""Binding for Microsoft's VibeVoice realtime 0.5B streaming model (the `gpu` extra, CUDA image).

The model package is imported here only, by name at load time: it is not installable from PyPI (it
comes from Microsoft's repository in the CUDA image) and pulls in torch. Voice presets are the
prefilled prompt caches (`*.pt`) the model ships for its streaming voices.
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from vibevoice_platform.tts.engines.vibevoice import AudioSink, ModelBinding
from vibevoice_platform.tts.errors import EngineError

MODEL_MODULE = "vibevoice.modular.modeling_vibevoice_streaming_inference"
PROCESSOR_MODULE = "vibevoice.processor.vibevoice_streaming_processor"


class RealtimeBinding(ModelBinding):
    """`VibeVoiceStreamingForConditionalGenerationInference` with cached voice prompts."""

    def __init__(
        self,
        *,
        model_path: str,
        voices_dir: str | None,
        device: str,
        cfg_scale: float,
        diffusion_steps: int,
    ) -> None:
        self.model_id = model_path
        self._voices_dir = Path(voices_dir) if voices_dir else Path(model_path) / "voices"
        self._device = device
        self._cfg_scale = cfg_scale
        self._steps = diffusion_steps
        self._prompts: dict[str, Any] = {}
        self._model: Any = None
        self._processor: Any = None
        self._torch: Any = None

    @property
    def voices(self) -> Sequence[str]:
        return tuple(self._prompts)

    def load(self) -> None:
        try:
            torch = importlib.import_module("torch")
            model_cls = importlib.import_module(
                MODEL_MODULE
            ).VibeVoiceStreamingForConditionalGenerationInference
            processor_cls = importlib.import_module(PROCESSOR_MODULE).VibeVoiceStreamingProcessor
        except ImportError as exc:
            raise EngineError(
                f"the VibeVoice realtime package is not installed ({exc}); use the cuda image"
            ) from exc
        on_gpu = self._device.startswith("cuda")
        self._torch = torch
        self._processor = processor_cls.from_pretrained(self.model_id)
        self._model = model_cls.from_pretrained(
            self.model_id,
            torch_dtype=torch.bfloat16 if on_gpu else torch.float32,
            device_map=self._device,
            attn_implementation="sdpa",
        )
        self._model.eval()
        self._model.set_ddpm_inference_steps(num_steps=self._steps)
        presets = sorted(self._voices_dir.glob("*.pt"))
        self._prompts = {
            path.stem: torch.load(path, map_location=self._device, weights_only=False) for path in presets
        }

    def generate(self, text: str, voice: str, streamer: AudioSink, should_stop: Callable[[], bool]) -> None:
        prompt = self._prompts[voice]
        inputs = self._processor.process_input_with_cached_prompt(
            text=text.strip(),
            cached_prompt=prompt,
            padding=True,
            return_tensors="pt",
            return_attention_mask=True,
        )
        inputs = {k: v.to(self._device) if hasattr(v, "to") else v for k, v in inputs.items()}
        with self._torch.inference_mode():
            self._model.generate(
                **inputs,
                max_new_tokens=None,
                cfg_scale=self._cfg_scale,
                tokenizer=self._processor.tokenizer,
                generation_config={"do_sample": False},
                audio_streamer=streamer,
                stop_check_fn=should_stop,
                verbose=False,
                all_prefilled_outputs=copy.deepcopy(prompt),
            )
