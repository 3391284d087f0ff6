"""`--model tiny-random`: the VibeVoice model code with a tiny randomly initialised model.

No weights, no hub: the model, its text tokenizer and its voices are built in memory at load, so the
real inference path runs on any CPU in well under a second per utterance. It speaks noise. It is built
for either model package, the way the family is chosen (`auto`: realtime where Microsoft's realtime
classes import, as in the cuda image, else long-form):

- long-form (PyPI's `vibevoice`): processor, LM prefill with a voice sample, diffusion head with
  classifier-free guidance, streaming acoustic decoder, semantic re-encoding, `stop_check_fn`;
- realtime (Microsoft's package): voice presets made by prefilling the tiny model's two LMs with a
  short prompt (transformers' outputs with their caches, as the `.pt` presets hold), text fed in
  windows, diffusion, streaming acoustic decoder, the binding's stop at every step.

What it takes to make random weights speak (measured; see ../shared/environment.md):
- a Qwen2 decoder of hidden size 64, 2 layers (the realtime model splits them: 1 text layer, 1 TTS
  layer); acoustic (and, long-form, semantic) tokenizers with the real downsampling ratios (one frame
  is 3,200 samples) but 4 filters, depth 1 and a 16-dim latent; a diffusion head as wide as the decoder;
- the speech scaling and bias buffers set to 1 and 0 (they load as NaN without a checkpoint);
- a byte-level BPE tokenizer trained here on a few sentences, with the special tokens the processors
  use (never `from_pretrained`, which would go to the hub);
- a length budget from the text, as random weights never pick end-of-speech (the realtime model's
  end-of-speech classifier is made to say no, the long-form decoder is left to its length): about one
  133 ms frame per two characters, a speaking rate of 15 characters a second; and, long-form, a
  `sequence_bias` on the speech diffusion token, which random weights never pick by themselves.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from vibevoice_platform.audio import SAMPLE_RATE
from vibevoice_platform.tts.engines.vibevoice_interface import model_text
from vibevoice_platform.tts.engines.vibevoice_longform import MODEL_MODULE as LONGFORM_MODULE
from vibevoice_platform.tts.engines.vibevoice_longform import PROCESSOR_MODULE as LONGFORM_PROCESSOR
from vibevoice_platform.tts.engines.vibevoice_longform import LongformBinding
from vibevoice_platform.tts.engines.vibevoice_realtime import MODEL_MODULE as REALTIME_MODULE
from vibevoice_platform.tts.engines.vibevoice_realtime import PROCESSOR_MODULE as REALTIME_PROCESSOR
from vibevoice_platform.tts.engines.vibevoice_realtime import RealtimeBinding
from vibevoice_platform.tts.engines.vibevoice_runtime import (
    AUDIO_PROCESSOR_MODULE,
    TOKENIZER_MODULE,
    import_attr,
    import_module,
)
from vibevoice_platform.tts.settings import TINY_RANDOM

SEED = 0
HIDDEN = 64
LATENT = 16
RATIOS = [8, 5, 5, 4, 2, 2]  # the real model's: 3,200 samples per frame
FRAME_SAMPLES = math.prod(RATIOS)
CHARS_PER_FRAME = 2
SPEECH_BIAS = 100.0
# Two voices. Long-form: short hums at different pitches, three frames long, as the voice samples of
# the prompt. Realtime: a short prompt for each, prefilled into the caches of its preset.
VOICE_PITCHES_HZ = {"tiny-low": 110.0, "tiny-high": 220.0}
VOICE_FRAMES = 3
VOICE_PROMPTS = {"tiny-low": " Speaker 0: a low hum.\n", "tiny-high": " Speaker 0: a high hum.\n"}
REALTIME_CONFIG_MODULE = "vibevoice.modular.configuration_vibevoice_streaming"
NEVER = -100.0  # the realtime end-of-speech classifier's logit: sigmoid gives 0, it never says stop
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
    tokenizer_cls = import_attr(TOKENIZER_MODULE, "VibeVoiceTextTokenizerFast")
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


def decoder_config(vocab_size: int) -> dict[str, Any]:
    """The Qwen2 decoder: real structure, tiny sizes."""
    return {
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
    }


SPEECH_TOKENIZER = {
    "vae_dim": LATENT,
    "encoder_n_filters": 4,
    "encoder_ratios": RATIOS,
    "encoder_depths": "-".join(["1"] * (len(RATIOS) + 1)),
}
ACOUSTIC_TOKENIZER = {**SPEECH_TOKENIZER, "decoder_n_filters": 4}
DIFFUSION_HEAD = {"hidden_size": HIDDEN, "head_layers": 2, "latent_size": LATENT}


def tiny_config(vocab_size: int) -> Any:
    """The long-form model configuration: real structure, tiny sizes."""
    config_cls = import_attr("vibevoice.modular.configuration_vibevoice", "VibeVoiceConfig")
    return config_cls(
        acoustic_tokenizer_config=dict(ACOUSTIC_TOKENIZER),
        semantic_tokenizer_config=dict(SPEECH_TOKENIZER),
        decoder_config=decoder_config(vocab_size),
        diffusion_head_config=dict(DIFFUSION_HEAD),
    )


def tiny_realtime_config(vocab_size: int) -> Any:
    """The realtime model configuration: the decoder's upper layer is the TTS LM, the lower the text LM."""
    config_cls = import_attr(REALTIME_CONFIG_MODULE, "VibeVoiceStreamingConfig")
    return config_cls(
        acoustic_tokenizer_config=dict(ACOUSTIC_TOKENIZER),
        decoder_config=decoder_config(vocab_size),
        diffusion_head_config=dict(DIFFUSION_HEAD),
        tts_backbone_num_hidden_layers=1,
    )


def random_model(torch: Any, model_cls: Any, config: Any) -> Any:
    """`model_cls(config)` with seeded random weights, and the speech buffers a checkpoint would set."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        model = model_cls(config)
    model.model.speech_scaling_factor.fill_(1.0)
    model.model.speech_bias_factor.fill_(0.0)
    return model


def speech_frames(text: str) -> int:
    """The length budget of `text` in frames: one per two characters."""
    return max(1, math.ceil(len(model_text(text)) / CHARS_PER_FRAME))


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
        model_cls = import_attr(LONGFORM_MODULE, "VibeVoiceForConditionalGenerationInference")
        processor_cls = import_attr(LONGFORM_PROCESSOR, "VibeVoiceProcessor")
        audio_processor_cls = import_attr(AUDIO_PROCESSOR_MODULE, "VibeVoiceTokenizerProcessor")
        tokenizer = tiny_tokenizer()
        model = random_model(self.torch, model_cls, tiny_config(len(tokenizer)))
        model = model.to(device=self.device, dtype=dtype)
        self._diffusion_token = tokenizer.speech_diffusion_id
        return model, processor_cls(tokenizer=tokenizer, audio_processor=audio_processor_cls())

    def load_voices(self) -> dict[str, Any]:
        return {name: hum(pitch) for name, pitch in VOICE_PITCHES_HZ.items()}

    def generation_config(self) -> dict[str, Any]:
        return {**super().generation_config(), "sequence_bias": {(self._diffusion_token,): SPEECH_BIAS}}

    def max_new_tokens(self, text: str) -> int | None:
        return speech_frames(text)


class TinyRealtimeBinding(RealtimeBinding):
    """The realtime binding over a model, tokenizer and voice presets made in memory."""

    default_threads = TinyRandomBinding.default_threads

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

    def build_model(self, dtype: Any) -> tuple[Any, Any]:
        model_cls = import_attr(REALTIME_MODULE, "VibeVoiceStreamingForConditionalGenerationInference")
        processor_cls = import_attr(REALTIME_PROCESSOR, "VibeVoiceStreamingProcessor")
        audio_processor_cls = import_attr(AUDIO_PROCESSOR_MODULE, "VibeVoiceTokenizerProcessor")
        tokenizer = tiny_tokenizer()
        model = random_model(self.torch, model_cls, tiny_realtime_config(len(tokenizer)))
        eos = model.tts_eos_classifier.fc2
        eos.weight.data.zero_()
        eos.bias.data.fill_(NEVER)
        model = model.to(device=self.device, dtype=dtype)
        return model, processor_cls(tokenizer=tokenizer, audio_processor=audio_processor_cls())

    def load_voices(self) -> dict[str, Any]:
        with self.torch.inference_mode():
            return {name: self.prefill(prompt) for name, prompt in VOICE_PROMPTS.items()}

    def prefill(self, prompt: str) -> dict[str, Any]:
        """A voice preset as Microsoft's `.pt` files hold one: each LM's output and cache after `prompt`,
        and after the negative prompt (one pad token) that guidance contrasts it with."""
        outputs = import_module("transformers.modeling_outputs")
        tokenizer = self.processor.tokenizer
        positive = self.torch.tensor([tokenizer.encode(prompt, add_special_tokens=False)], device=self.device)
        negative = self.torch.tensor([[tokenizer.pad_id]], device=self.device)
        preset: dict[str, Any] = {}
        for prefix, ids in (("", positive), ("neg_", negative)):
            mask = self.torch.ones_like(ids)
            lm = self.model.forward_lm(input_ids=ids, attention_mask=mask, use_cache=True, return_dict=True)
            tts_lm = self.model.forward_tts_lm(
                input_ids=ids,
                attention_mask=mask,
                use_cache=True,
                return_dict=True,
                lm_last_hidden_state=lm.last_hidden_state,
                tts_text_masks=mask,
            )
            for name, output in (("lm", lm), ("tts_lm", tts_lm)):
                preset[prefix + name] = outputs.BaseModelOutputWithPast(
                    last_hidden_state=output.last_hidden_state, past_key_values=output.past_key_values
                )
        return preset

    def max_new_tokens(self, text: str) -> int | None:
        # The text's tokens count against the budget too, as the model feeds them in.
        script = self.processor.tokenizer.encode(model_text(text) + "\n", add_special_tokens=False)
        return len(script) + speech_frames(text)
