"""A stand-in for Microsoft's VibeVoice realtime 0.5B package where it is not installed.

Microsoft's package is not on PyPI and cannot be installed on the development machines; the cuda image
has it. This fake has the shape of its API as Microsoft's streaming demo server uses it (read at the
commit the cuda image pins), with transformers' own types where the package passes them:

- `VibeVoiceStreamingProcessor(tokenizer=, audio_processor=, speech_tok_compress_ratio=, db_normalize=)`
  and `process_input_with_cached_prompt(text=, cached_prompt=, padding=, return_tensors=,
  return_attention_mask=)`, whose outputs are shaped by the cached prompt: `input_ids` /
  `tts_lm_input_ids` of the tokenizer's pad id, as long as its `lm` / `tts_lm` hidden states, the
  script tokens as `tts_text_ids`, attention masks, `speech_input_mask`, no speech tensors;
- a voice preset as the `.pt` files hold one: a dict of `lm`, `tts_lm`, `neg_lm`, `neg_tts_lm`, each a
  `BaseModelOutputWithPast` whose `past_key_values` is a `DynamicCache` (one entry per layer, as long as
  the hidden state), saved with torch.save;
- `VibeVoiceStreamingForConditionalGenerationInference.from_pretrained(path, torch_dtype=,
  device_map=, attn_implementation=)`, `.config._attn_implementation`, `.model.noise_scheduler` (with
  `config` and `from_config`), `set_ddpm_inference_steps(num_steps=)`, and `generate(**inputs,
  max_new_tokens=, cfg_scale=, tokenizer=, generation_config=, audio_streamer=, stop_check_fn=,
  verbose=, refresh_negative=, all_prefilled_outputs=)`, which feeds the text in windows of 5 tokens,
  makes 6 speech frames per window, each put into the streamer as the decoder's batch, shaped (1, 1,
  3,200), with its sample indices, polls `stop_check_fn` once per window, and on end of speech calls
  `audio_streamer.end(indices)` but goes on putting the rest of the window, as the real loop does (the
  real streamer drops those). It extends the `tts_lm` cache of the prompt it is given, as the real
  model does, which is why callers must pass a copy.

The frames carry the voice (the mean of its `tts_lm` hidden state) and the frame's number, so a test
can tell which voice spoke and which frames arrived. Where Microsoft's package is installed, the fake
takes its place for the test that installs it.
"""

from __future__ import annotations

import importlib
import sys
import time
import types
from dataclasses import dataclass, field
from typing import Any

import pytest

from vibevoice_platform.tts.engines.vibevoice_realtime import MODEL_MODULE, PROCESSOR_MODULE

TEXT_WINDOW = 5
SPEECH_WINDOW = 6
FRAME_SAMPLES = 3200
HIDDEN = 8
KV_HEADS, HEAD_DIM = 2, 4
LM_LAYERS, TTS_LM_LAYERS = 2, 3
EOS_AFTER_TEXT_FRAMES = 9  # frames spoken once the text is all in (mid-window: 9 = 6 + 3)


@dataclass
class Calls:
    """What the fake saw, for the test to check."""

    loaded: list[dict[str, Any]] = field(default_factory=list)
    processor: dict[str, Any] = field(default_factory=dict)
    scheduler: dict[str, Any] = field(default_factory=dict)
    steps: int | None = None
    generate_kwargs: list[dict[str, Any]] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    frames_put: int = 0
    frames_put_after_stop: int = 0  # frames put once stop_check_fn had turned true
    stopped_at_window: int | None = None  # the model's own once-a-window check saw the stop
    raised: str | None = None  # what unwound generate, if anything did


def make_preset(torch: Any, lm_length: int, tts_lm_length: int, level: float) -> dict[str, Any]:
    """A voice prompt cache shaped like Microsoft's presets; `level` marks the voice in its audio."""
    outputs = importlib.import_module("transformers.modeling_outputs")
    cache_utils = importlib.import_module("transformers.cache_utils")

    def output(length: int, layers: int) -> Any:
        cache = cache_utils.DynamicCache()
        for layer in range(layers):
            states = torch.full((1, KV_HEADS, length, HEAD_DIM), level)
            cache.update(states, states.clone(), layer)
        return outputs.BaseModelOutputWithPast(
            last_hidden_state=torch.full((1, length, HIDDEN), level), past_key_values=cache
        )

    return {
        "lm": output(lm_length, LM_LAYERS),
        "tts_lm": output(tts_lm_length, TTS_LM_LAYERS),
        "neg_lm": output(1, LM_LAYERS),
        "neg_tts_lm": output(1, TTS_LM_LAYERS),
    }


def build_modules(torch: Any, calls: Calls, step_s: float) -> dict[str, types.ModuleType]:
    """The two modules the realtime binding imports, holding the fake classes."""

    class FakeProcessor:
        def __init__(
            self,
            tokenizer: Any,
            audio_processor: Any,
            speech_tok_compress_ratio: int = 3200,
            db_normalize: bool = True,
        ) -> None:
            self.tokenizer = tokenizer
            calls.processor = {
                "tokenizer": tokenizer,
                "audio_processor": audio_processor,
                "speech_tok_compress_ratio": speech_tok_compress_ratio,
                "db_normalize": db_normalize,
            }

        def process_input_with_cached_prompt(
            self,
            text: str,
            cached_prompt: dict[str, Any],
            padding: bool = True,
            return_tensors: str | None = None,
            return_attention_mask: bool = True,
        ) -> dict[str, Any]:
            assert (padding, return_tensors, return_attention_mask) == (True, "pt", True)
            calls.texts.append(text)
            lm = cached_prompt["lm"]["last_hidden_state"].size(1)
            tts_lm = cached_prompt["tts_lm"]["last_hidden_state"].size(1)
            script = self.tokenizer.encode(text.strip() + "\n", add_special_tokens=False)
            pad = self.tokenizer.pad_id
            return {
                "input_ids": torch.full((1, lm), pad, dtype=torch.long),
                "attention_mask": torch.ones((1, lm), dtype=torch.long),
                "tts_lm_input_ids": torch.full((1, tts_lm), pad, dtype=torch.long),
                "tts_lm_attention_mask": torch.ones((1, tts_lm), dtype=torch.long),
                "tts_text_ids": torch.tensor([script], dtype=torch.long),
                "speech_input_mask": torch.zeros((1, tts_lm), dtype=torch.bool),
                "speech_tensors": None,
                "speech_masks": None,
            }

    class FakeScheduler:
        config: dict[str, Any] = {"num_train_timesteps": 1000}  # noqa: RUF012 - a fake's fixed config

        def from_config(self, config: dict[str, Any], **overrides: Any) -> FakeScheduler:
            calls.scheduler = {**config, **overrides}
            return FakeScheduler()

    class FakeModel:
        def __init__(self, attention: str) -> None:
            self.model = types.SimpleNamespace(noise_scheduler=FakeScheduler())
            self.config = types.SimpleNamespace(_attn_implementation=attention)

        @classmethod
        def from_pretrained(cls, path: str, **kwargs: Any) -> FakeModel:
            calls.loaded.append({"path": path, **kwargs})
            return cls(kwargs["attn_implementation"])

        def eval(self) -> FakeModel:
            return self

        def set_ddpm_inference_steps(self, num_steps: int) -> None:
            calls.steps = num_steps

        def generate(self, **kwargs: Any) -> None:
            calls.generate_kwargs.append(kwargs)
            try:
                self._generate(**kwargs)
            except BaseException as exc:
                calls.raised = type(exc).__name__
                raise

        def _generate(self, **kwargs: Any) -> None:
            prompt = kwargs["all_prefilled_outputs"]
            cache = prompt["tts_lm"].past_key_values
            assert kwargs["input_ids"].shape[1] == prompt["lm"].last_hidden_state.size(1)
            assert kwargs["tts_lm_input_ids"].shape[1] == cache.get_seq_length()  # an unused cache
            kwargs["tokenizer"].convert_tokens_to_ids("<|image_pad|>")
            streamer, should_stop = kwargs["audio_streamer"], kwargs["stop_check_fn"]
            level = float(prompt["tts_lm"].last_hidden_state.mean())
            text = kwargs["tts_text_ids"]
            windows_of_text = -(-text.shape[1] // TEXT_WINDOW)
            frame, window, finished = 0, 0, False
            indices = torch.LongTensor([0])
            while not finished:
                if should_stop():
                    calls.stopped_at_window = window
                    streamer.end()
                    return
                for _ in range(SPEECH_WINDOW):
                    time.sleep(step_s)
                    frame += 1
                    states = torch.zeros((1, KV_HEADS, 1, HEAD_DIM))
                    for layer in range(TTS_LM_LAYERS):
                        cache.update(states, states, layer)  # the cache grows with each frame
                    chunk = torch.full((1, 1, FRAME_SAMPLES), level) + frame / 10_000
                    stop_seen = should_stop()  # for the test only: the model checks once a window
                    calls.frames_put += 1
                    calls.frames_put_after_stop += stop_seen
                    streamer.put(chunk, indices)
                    spoken_enough = frame >= windows_of_text * SPEECH_WINDOW + EOS_AFTER_TEXT_FRAMES
                    if not finished and window >= windows_of_text and spoken_enough:
                        finished = True
                        streamer.end(indices)
                window += 1
            streamer.end()

    model_module = types.ModuleType(MODEL_MODULE)
    model_module.VibeVoiceStreamingForConditionalGenerationInference = FakeModel  # type: ignore[attr-defined]
    processor_module = types.ModuleType(PROCESSOR_MODULE)
    processor_module.VibeVoiceStreamingProcessor = FakeProcessor  # type: ignore[attr-defined]
    return {MODEL_MODULE: model_module, PROCESSOR_MODULE: processor_module}


def install(monkeypatch: pytest.MonkeyPatch, torch: Any, step_s: float = 0.0) -> Calls:
    """Put the fake realtime modules where the binding imports them from, for one test."""
    calls = Calls()
    for name, module in build_modules(torch, calls, step_s).items():
        monkeypatch.setitem(sys.modules, name, module)
    return calls
