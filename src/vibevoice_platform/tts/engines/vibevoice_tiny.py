"""`--model tiny-random`: the long-form VibeVoice code with a tiny randomly initialised model.

No weights, no hub: the model, its text tokenizer and its voices are built in memory at load, so the
real inference path (processor, LM prefill with a voice prompt, diffusion head with classifier-free
guidance, streaming acoustic decoder, semantic re-encoding, `AudioStreamer`, `stop_check_fn`) runs on
any CPU in well under a second per utterance. It speaks noise.

What it takes to make random weights speak (measured; see ../shared/environment.md):
- a Qwen2 decoder of hidden size 64, 2 layers; acoustic and semantic tokenizers with the real
  downsampling ratios (one frame is 3,200 samples) but 4 filters, depth 1 and a 16-dim latent; a
  diffusion head as wide as the decoder;
- the speech scaling and bias buffers set to 1 and 0 (they load as NaN without a checkpoint);
- a byte-level BPE tokenizer trained here on a few sentences, with the special tokens the processor
  uses (never `from_pretrained`, which would go to the hub);
- a `sequence_bias` on the speech diffusion token, which random weights never pick by themselves, and
  a length budget from the text (random weights never pick end-of-speech either): about one 133 ms
  frame per two characters, a speaking rate of 15 characters a second.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from vibevoice_platform.audio import SAMPLE_RATE
from vibevoice_platform.tts.engines.vibevoice_interface import model_text
from vibevoice_platform.tts.engines.vibevoice_longform import (
    MODEL_MODULE,
    PROCESSOR_MODULE,
    LongformBinding,
)
from vibevoice_platform.tts.engines.vibevoice_runtime import import_attr, import_module
from vibevoice_platform.tts.settings import TINY_RANDOM

SEED = 0
HIDDEN = 64
LATENT = 16
RATIOS = [8, 5, 5, 4, 2, 2]  # the real model's: 3,200 samples per frame
FRAME_SAMPLES = math.prod(RATIOS)
CHARS_PER_FRAME = 2
SPEECH_BIAS = 100.0
# Two voices: short hums at different pitches, three frames long, as the voice samples of the prompt.
VOICE_PITCHES_HZ = {"tiny-low": 110.0, "tiny-high": 220.0}
VOICE_FRAMES = 3
SPECIAL_TOKENS = ["<|endoftext|>", "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>"]
# What the processor writes around the script, and a little English, to train the tokenizer on.
TOKENIZER_CORPUS = [
    " Transform the text provided by various speakers into speech output, utilizing the distinct voice"
    " of each respective speaker.\n",
    " Voice input:\n",
    " Speaker 0:",
    " Text input:\n",
    " Speech output:\n",
    "Hello there. How are you today? I am fine, thank you, and you?",
    "The quick brown fox jumps over the lazy dog while the weather on the coast stays calm.",
    "This sentence is spoken again and again to make a long stream of speech.",
]


def tiny_tokenizer() -> Any:
    """A VibeVoice text tokenizer over a byte-level BPE trained here (every byte is in its vocabulary)."""
    tokenizers = import_module("tokenizers")
    tokenizer_cls = import_attr(
        "vibevoice.modular.modular_vibevoice_text_tokenizer", "VibeVoiceTextTokenizerFast"
    )
    byte_level = tokenizers.pre_tokenizers.ByteLevel
    bpe = tokenizers.Tokenizer(tokenizers.models.BPE())
    bpe.pre_tokenizer = byte_level(add_prefix_space=False)
    bpe.decoder = tokenizers.decoders.ByteLevel()
    trainer = tokenizers.trainers.BpeTrainer(
        vocab_size=512,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=byte_level.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(TOKENIZER_CORPUS, trainer)
    return tokenizer_cls(tokenizer_object=bpe)


def tiny_config(vocab_size: int) -> Any:
    """The model configuration: real structure, tiny sizes."""
    config_cls = import_attr("vibevoice.modular.configuration_vibevoice", "VibeVoiceConfig")
    depths = "-".join(["1"] * (len(RATIOS) + 1))
    speech_tokenizer = {
        "vae_dim": LATENT,
        "encoder_n_filters": 4,
        "encoder_ratios": RATIOS,
        "encoder_depths": depths,
    }
    return config_cls(
        acoustic_tokenizer_config={**speech_tokenizer, "decoder_n_filters": 4},
        semantic_tokenizer_config=dict(speech_tokenizer),
        decoder_config={
            "model_type": "qwen2",
            "hidden_size": HIDDEN,
            "intermediate_size": 2 * HIDDEN,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "vocab_size": vocab_size,
            # room for the longest input (4,096 characters) and its speech
            "max_position_embeddings": 16_384,
            "sliding_window": None,
        },
        diffusion_head_config={"hidden_size": HIDDEN, "head_layers": 2, "latent_size": LATENT},
    )


def hum(pitch_hz: float, frames: int = VOICE_FRAMES) -> np.ndarray:
    """A quiet sine at `pitch_hz`, `frames` acoustic frames long: a voice sample for the tiny model."""
    t = np.arange(frames * FRAME_SAMPLES) / SAMPLE_RATE
    return (0.1 * np.sin(2 * np.pi * pitch_hz * t)).astype(np.float32)


class TinyRandomBinding(LongformBinding):
    """The long-form binding over a model, tokenizer and voices made in memory."""

    # Its operations are too small to gain from threads, and on a busy machine OpenMP threads that wait
    # for each other were measured up to 30 times slower (17 ms a step with one, 20 to 700 ms with two).
    default_threads = 1

    def __init__(
        self, *, device: str, dtype: str, cfg_scale: float, diffusion_steps: int, threads: int | None = None
    ) -> None:
        super().__init__(
            model_path=TINY_RANDOM,
            voices_dir=None,
            device=device,
            dtype=dtype,
            cfg_scale=cfg_scale,
            diffusion_steps=diffusion_steps,
            threads=threads,
        )
        self._diffusion_token: int | None = None

    def load_model(self, dtype: Any) -> tuple[Any, Any]:
        torch = self.torch
        model_cls = import_attr(MODEL_MODULE, "VibeVoiceForConditionalGenerationInference")
        processor_cls = import_attr(PROCESSOR_MODULE, "VibeVoiceProcessor")
        audio_processor_cls = import_attr(
            "vibevoice.processor.vibevoice_tokenizer_processor", "VibeVoiceTokenizerProcessor"
        )
        tokenizer = tiny_tokenizer()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(SEED)
            model = model_cls(tiny_config(len(tokenizer)))
        model.model.speech_scaling_factor.fill_(1.0)
        model.model.speech_bias_factor.fill_(0.0)
        model = model.to(device=self.device, dtype=dtype)
        self._diffusion_token = tokenizer.speech_diffusion_id
        return model, processor_cls(tokenizer=tokenizer, audio_processor=audio_processor_cls())

    def load_voices(self) -> dict[str, Any]:
        return {name: hum(pitch) for name, pitch in VOICE_PITCHES_HZ.items()}

    def generation_config(self) -> dict[str, Any]:
        return {**super().generation_config(), "sequence_bias": {(self._diffusion_token,): SPEECH_BIAS}}

    def max_new_tokens(self, text: str) -> int | None:
        return max(1, math.ceil(len(model_text(text)) / CHARS_PER_FRAME))
