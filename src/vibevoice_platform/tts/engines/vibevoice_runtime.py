"""The one boundary to torch and the VibeVoice model packages (the `gpu` extra).

They are imported by name, only when a model binding loads, and typed `Any` here so the rest of the
service needs neither them nor their stubs; an import failure becomes an `EngineError` that says
what to install. `TorchModelBinding` is what the realtime and long-form bindings share: device, dtype
and attention kernels, the processor with its text tokenizer, voices, inference mode.

The processors of both model packages load a Qwen text tokenizer by the name in the model's
`preprocessor_config.json` (`language_model_pretrained_name`), from the hub: a second repository the
model cache must hold. Here the processor is assembled from its parts (that tokenizer, the audio
processor, the config's ratios), as the packages' own `from_pretrained` does, so `--tokenizer` can name
a local folder instead, and a tokenizer or model missing from the cache under `HF_HUB_OFFLINE` is an
error that says what is missing and where it was looked for.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import logging
from abc import abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from vibevoice_platform.tts.engines.base import LoadProgress
from vibevoice_platform.tts.engines.vibevoice_interface import AudioSink, ModelBinding
from vibevoice_platform.tts.errors import EngineError

logger = logging.getLogger(__name__)

INSTALL_HINT = (
    "the long-form model code and CPU torch come with `make model-deps` (the gpu extra and PyPI's "
    "vibevoice); Microsoft's realtime classes are not on PyPI: the cuda image installs them from its "
    "repository"
)
TOKENIZER_MODULE = "vibevoice.modular.modular_vibevoice_text_tokenizer"
AUDIO_PROCESSOR_MODULE = "vibevoice.processor.vibevoice_tokenizer_processor"
# What both packages' processors fall back to when the config names no tokenizer.
DEFAULT_TOKENIZER = "Qwen/Qwen2.5-1.5B"
AUDIO_PROCESSOR_SETTINGS = ("sampling_rate", "normalize_audio", "target_dB_FS", "eps")


def import_module(name: str) -> Any:
    """Import `name` (torch, vibevoice.*, ...) or raise EngineError naming what is missing."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise EngineError(f"{name} cannot be imported ({exc}); {INSTALL_HINT}") from exc


def check_model_folder(model: str) -> None:
    """A `--model` written as a path (/, ., ~) must be a folder: otherwise the hub would be asked for
    it as a model id and answer with a message about repository names."""
    if model.startswith(("/", ".", "~")) and not Path(model).expanduser().is_dir():
        raise EngineError(
            f"--model {model}: no such folder (a model is a local folder, a model id such as "
            "microsoft/VibeVoice-Realtime-0.5B, or tiny-random)"
        )


def import_attr(module: str, attr: str) -> Any:
    """`module.attr` (a model or processor class), or EngineError."""
    found = getattr(import_module(module), attr, None)
    if found is None:
        raise EngineError(f"{module} has no {attr}; is the right vibevoice package installed?")
    return found


def resolve_device(torch: Any, requested: str) -> str:
    """`auto` is cuda when torch sees a GPU, else cpu; a named device must exist."""
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise EngineError(f"device {requested!r} asked for, but torch sees no CUDA GPU")
    return requested


def resolve_attention(requested: str, device: str) -> str:
    """`auto` is flash_attention_2 on CUDA when `flash_attn` imports, else SDPA.

    Microsoft's realtime demo loads the model with flash_attention_2 on CUDA and warns that SDPA, its
    fallback, may lower audio quality; flash_attention_2 needs the `flash_attn` package and a GPU.
    """
    flash_available = importlib.util.find_spec("flash_attn") is not None
    if requested == "flash_attention_2":
        if not device.startswith("cuda"):
            raise EngineError(f"attention flash_attention_2 needs a CUDA device, not {device!r}")
        if not flash_available:
            raise EngineError("attention flash_attention_2 asked for, but the flash_attn package is missing")
        return requested
    if requested == "auto" and device.startswith("cuda"):
        if flash_available:
            return "flash_attention_2"
        logger.warning(
            "flash_attn is not installed: the model runs with SDPA attention, which may lower audio "
            "quality (Microsoft tests the realtime model with flash_attention_2)"
        )
    return "sdpa"


def hub_offline() -> bool:
    """True when the hub must not be asked (HF_HUB_OFFLINE, as huggingface_hub read it)."""
    return bool(import_module("huggingface_hub.constants").HF_HUB_OFFLINE)


def cannot_load(what: str, exc: Exception) -> EngineError:
    """The error for `what` (a model, a tokenizer, a config) that could not be read from disk or hub."""
    if hub_offline():
        cache = import_module("huggingface_hub.constants").HF_HUB_CACHE
        return EngineError(
            f"{what} is not in the model cache ({cache}) and HF_HUB_OFFLINE is set: fetch it into the "
            f"cache beforehand, or give a local folder ({exc})"
        )
    return EngineError(f"{what} cannot be loaded: {exc}")


def processor_config(model_id: str) -> dict[str, Any]:
    """The model's `preprocessor_config.json`: from its folder, else the hub (or its cache)."""
    path = Path(model_id) / "preprocessor_config.json"
    if not path.is_file():
        cached_file = import_attr("transformers.utils", "cached_file")
        try:
            path = Path(cached_file(model_id, "preprocessor_config.json"))
        except OSError as exc:
            raise cannot_load(f"the preprocessor_config.json of {model_id}", exc) from exc
    config: dict[str, Any] = json.loads(path.read_text())
    return config


def resolve_dtype(torch: Any, requested: str, device: str) -> Any:
    """`auto` is bfloat16 on a GPU (what the model is run in there) and float32 on a CPU."""
    name = requested
    if requested == "auto":
        name = "bfloat16" if device.startswith("cuda") else "float32"
    return getattr(torch, name)


class TorchModelBinding(ModelBinding):
    """What the torch bindings share: device and dtype, the model and processor, voices, inference mode."""

    family: ClassVar[str]
    default_threads: ClassVar[int | None] = None  # torch's own choice

    def __init__(
        self,
        *,
        model_path: str,
        voices_dir: str | None,
        device: str,
        dtype: str,
        cfg_scale: float,
        diffusion_steps: int,
        threads: int | None = None,
        attention: str = "auto",
        tokenizer: str | None = None,
    ) -> None:
        self.model_id = model_path
        self.voices_dir = Path(voices_dir) if voices_dir else Path(model_path) / "voices"
        self.device = device
        self.cfg_scale = cfg_scale
        self._requested_dtype = dtype
        self._steps = diffusion_steps
        self._threads = threads or self.default_threads
        self._attention = attention
        self._tokenizer = tokenizer
        self._voices: dict[str, Any] = {}
        self.torch: Any = None
        self.model: Any = None
        self.processor: Any = None

    @property
    def voices(self) -> Sequence[str]:
        return tuple(self._voices)

    def load(self, progress: LoadProgress) -> None:
        check_model_folder(self.model_id)
        torch = import_module("torch")
        self.torch = torch
        progress("torch imported")
        if self._threads is not None:
            torch.set_num_threads(self._threads)  # process-wide
        self.device = resolve_device(torch, self.device)
        dtype = resolve_dtype(torch, self._requested_dtype, self.device)
        progress(f"device {self.device}")
        self.model, self.processor = self.load_model(dtype)
        self.model.eval()
        self.model.set_ddpm_inference_steps(num_steps=self._steps)
        progress("model and processor loaded")
        self._voices = self.load_voices()
        logger.info(
            "model loaded",
            extra={
                "model": self.model_id,
                "family": self.family,
                "device": self.device,
                "dtype": str(dtype).removeprefix("torch."),
                "attention": self.model.config._attn_implementation,
                "threads": torch.get_num_threads(),
                "voices": list(self._voices),
            },
        )

    def generate(self, text: str, voice: str, streamer: AudioSink, should_stop: Callable[[], bool]) -> None:
        with self.torch.inference_mode():
            self.run_generate(text, self._voices[voice], streamer, should_stop)

    def from_pretrained(self, model_cls: Any, processor_cls: Any, dtype: Any) -> tuple[Any, Any]:
        """The model (from `self.model_id`, in `dtype`, on `self.device`) and its processor."""
        processor = self.load_processor(processor_cls)
        attention = resolve_attention(self._attention, self.device)
        try:
            model = model_cls.from_pretrained(
                self.model_id, torch_dtype=dtype, device_map=self.device, attn_implementation=attention
            )
        except OSError as exc:
            raise cannot_load(f"the model {self.model_id}", exc) from exc
        return model, processor

    def load_processor(self, processor_cls: Any) -> Any:
        """`processor_cls` with the text tokenizer of `--tokenizer`, else the one the model's config names."""
        config = processor_config(self.model_id)
        if self._tokenizer:
            name, source = self._tokenizer, "--tokenizer"
        else:
            name = config.get("language_model_pretrained_name") or DEFAULT_TOKENIZER
            source = f"language_model_pretrained_name in the preprocessor_config.json of {self.model_id}"
        tokenizer_cls = import_attr(TOKENIZER_MODULE, "VibeVoiceTextTokenizerFast")
        try:
            tokenizer = tokenizer_cls.from_pretrained(name)
        except OSError as exc:
            raise cannot_load(f"the text tokenizer {name} ({source})", exc) from exc
        audio = config.get("audio_processor", {})
        audio_processor = import_attr(AUDIO_PROCESSOR_MODULE, "VibeVoiceTokenizerProcessor")(
            **{key: audio[key] for key in AUDIO_PROCESSOR_SETTINGS if key in audio}
        )
        return processor_cls(
            tokenizer=tokenizer,
            audio_processor=audio_processor,
            speech_tok_compress_ratio=config.get("speech_tok_compress_ratio", 3200),
            db_normalize=config.get("db_normalize", True),
        )

    def generation_config(self) -> dict[str, Any]:
        """`generate`'s generation_config: greedy, as Microsoft's demos run the models."""
        return {"do_sample": False}

    def max_new_tokens(self, text: str) -> int | None:
        """Most steps for `text`; None lets the model end by itself (within its context)."""
        del text
        return None

    @abstractmethod
    def load_model(self, dtype: Any) -> tuple[Any, Any]:
        """The model (on `self.device`, in `dtype`) and its processor."""

    @abstractmethod
    def load_voices(self) -> dict[str, Any]:
        """Voice presets by name, ready for `run_generate`."""

    @abstractmethod
    def run_generate(
        self, text: str, preset: Any, streamer: AudioSink, should_stop: Callable[[], bool]
    ) -> None:
        """The model's own `generate` for one text in one voice (inference mode is on)."""
