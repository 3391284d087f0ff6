"""A stand-in for Microsoft's VibeVoice realtime 0.5B package, which cannot be installed here.

It has the shape of that package's API as Microsoft's streaming demo server uses it (read at the
commit the cuda image pins):

- `VibeVoiceStreamingProcessor.from_pretrained(path)` and `process_input_with_cached_prompt(text=,
  cached_prompt=, padding=, return_tensors=, return_attention_mask=)`, whose outputs are shaped by the
  cached prompt: `input_ids` / `tts_lm_input_ids` as long as its `lm` / `tts_lm` hidden states, the
  script tokens as `tts_text_ids`, attention masks, `speech_input_mask`, no speech tensors;
- a voice preset: a dict of prefilled outputs `lm`, `tts_lm`, `neg_lm`, `neg_tts_lm`, each with a
  `last_hidden_state`, saved with torch.save as a `.pt` file;
- `VibeVoiceStreamingForConditionalGenerationInference.from_pretrained(path, torch_dtype=,
  device_map=, attn_implementation=)`, `.model.noise_scheduler` (with `config` and `from_config`),
  `set_ddpm_inference_steps(num_steps=)`, and `generate(**inputs, max_new_tokens=, cfg_scale=,
  tokenizer=, generation_config=, audio_streamer=, stop_check_fn=, verbose=, refresh_negative=,
  all_prefilled_outputs=)`, which feeds the text in windows of 5 tokens, makes 6 speech frames of
  3,200 samples per window, puts each into the streamer with its sample indices, polls
  `stop_check_fn` once per window, and on end of speech calls `audio_streamer.end(indices)` but goes
  on putting the rest of the window, as the real loop does (the real streamer drops those).

The frames carry the voice (the mean of its `tts_lm` hidden state) and the frame's number, so a test
can tell which voice spoke and which frames arrived. The fake mutates the prompt it is given, as the
real model extends its caches, which is why callers must pass a copy.
"""

from __future__ import annotations

import json
import sys
import time
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from vibevoice_platform.tts.engines.vibevoice_realtime import MODEL_MODULE, PROCESSOR_MODULE

TEXT_WINDOW = 5
SPEECH_WINDOW = 6
FRAME_SAMPLES = 3200
PAD_ID = 151655
EOS_AFTER_TEXT_FRAMES = 9  # frames spoken once the text is all in (mid-window: 9 = 6 + 3)


@dataclass
class Calls:
    """What the fake saw, for the test to check."""

    loaded: list[dict[str, Any]] = field(default_factory=list)
    scheduler: dict[str, Any] = field(default_factory=dict)
    steps: int | None = None
    generate_kwargs: list[dict[str, Any]] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    frames_put: int = 0
    stopped_at_window: int | None = None


class FakeTokenizer:
    """Qwen's ids for the special tokens the realtime code looks up; a word is one token."""

    pad_id = PAD_ID

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        del add_special_tokens
        return [1000 + len(word) for word in text.split()]

    def convert_tokens_to_ids(self, token: str) -> int:
        assert token == "<|image_pad|>"
        return PAD_ID


def make_preset(torch: Any, lm_length: int, tts_lm_length: int, level: float) -> dict[str, Any]:
    """A voice prompt cache shaped like Microsoft's presets; `level` marks the voice in its audio."""

    def output(length: int) -> dict[str, Any]:
        return {"last_hidden_state": torch.full((1, length, 8), level), "past_key_values": [length]}

    return {
        "lm": output(lm_length),
        "tts_lm": output(tts_lm_length),
        "neg_lm": output(1),
        "neg_tts_lm": output(1),
    }


def build_modules(torch: Any, calls: Calls, step_s: float) -> dict[str, types.ModuleType]:
    """The two modules the realtime binding imports, holding the fake classes."""

    class FakeProcessor:
        tokenizer = FakeTokenizer()

        @classmethod
        def from_pretrained(cls, path: str) -> FakeProcessor:
            json.loads((Path(path) / "preprocessor_config.json").read_text())
            return cls()

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
            return {
                "input_ids": torch.full((1, lm), PAD_ID, dtype=torch.long),
                "attention_mask": torch.ones((1, lm), dtype=torch.long),
                "tts_lm_input_ids": torch.full((1, tts_lm), PAD_ID, dtype=torch.long),
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
        def __init__(self) -> None:
            self.model = types.SimpleNamespace(noise_scheduler=FakeScheduler())

        @classmethod
        def from_pretrained(cls, path: str, **kwargs: Any) -> FakeModel:
            calls.loaded.append({"path": path, **kwargs})
            return cls()

        def eval(self) -> FakeModel:
            return self

        def set_ddpm_inference_steps(self, num_steps: int) -> None:
            calls.steps = num_steps

        def generate(self, **kwargs: Any) -> None:
            calls.generate_kwargs.append(kwargs)
            prompt = kwargs["all_prefilled_outputs"]
            assert kwargs["input_ids"].shape[1] == prompt["lm"]["last_hidden_state"].size(1)
            assert kwargs["tts_lm_input_ids"].shape[1] == prompt["tts_lm"]["last_hidden_state"].size(1)
            streamer, should_stop = kwargs["audio_streamer"], kwargs["stop_check_fn"]
            level = float(prompt["tts_lm"]["last_hidden_state"].mean())
            prompt["tts_lm"]["last_hidden_state"] = prompt["tts_lm"]["last_hidden_state"] * 0  # cache grows
            text = kwargs["tts_text_ids"]
            windows_of_text = -(-text.shape[1] // TEXT_WINDOW)
            frame, window, finished = 0, 0, False
            while not finished:
                if should_stop():
                    calls.stopped_at_window = window
                    streamer.end()
                    return
                for _ in range(SPEECH_WINDOW):
                    time.sleep(step_s)
                    frame += 1
                    chunk = torch.full((1, FRAME_SAMPLES), level) + frame / 10_000
                    streamer.put(chunk, torch.LongTensor([0]))
                    calls.frames_put += 1
                    spoken_enough = frame >= windows_of_text * SPEECH_WINDOW + EOS_AFTER_TEXT_FRAMES
                    if not finished and window >= windows_of_text and spoken_enough:
                        finished = True
                        streamer.end(torch.LongTensor([0]))
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
