"""The one boundary to torch and the VibeVoice model packages (the `gpu` extra).

They are imported by name, only when a model binding loads, and typed `Any` here so the rest of the
service needs neither them nor their stubs; an import failure becomes an `EngineError` that says
what to install. `TorchModelBinding` is what the realtime and long-form bindings share.
"""

from __future__ import annotations

import importlib
import logging
from abc import abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from vibevoice_platform.tts.engines.vibevoice_interface import AudioSink, ModelBinding
from vibevoice_platform.tts.errors import EngineError

logger = logging.getLogger(__name__)

INSTALL_HINT = (
    "install the gpu extra: `make model-deps` (CPU torch and the PyPI vibevoice package), "
    "or use the cuda image"
)


def import_module(name: str) -> Any:
    """Import `name` (torch, vibevoice.*, ...) or raise EngineError naming what is missing."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise EngineError(f"{name} cannot be imported ({exc}); {INSTALL_HINT}") from exc


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
    ) -> None:
        self.model_id = model_path
        self.voices_dir = Path(voices_dir) if voices_dir else Path(model_path) / "voices"
        self.device = device
        self.cfg_scale = cfg_scale
        self._requested_dtype = dtype
        self._steps = diffusion_steps
        self._threads = threads or self.default_threads
        self._voices: dict[str, Any] = {}
        self.torch: Any = None
        self.model: Any = None
        self.processor: Any = None

    @property
    def voices(self) -> Sequence[str]:
        return tuple(self._voices)

    def load(self) -> None:
        torch = import_module("torch")
        self.torch = torch
        if self._threads is not None:
            torch.set_num_threads(self._threads)  # process-wide
        self.device = resolve_device(torch, self.device)
        dtype = resolve_dtype(torch, self._requested_dtype, self.device)
        self.model, self.processor = self.load_model(dtype)
        self.model.eval()
        self.model.set_ddpm_inference_steps(num_steps=self._steps)
        self._voices = self.load_voices()
        logger.info(
            "model loaded",
            extra={
                "model": self.model_id,
                "family": self.family,
                "device": self.device,
                "dtype": str(dtype).removeprefix("torch."),
                "threads": torch.get_num_threads(),
                "voices": list(self._voices),
            },
        )

    def generate(self, text: str, voice: str, streamer: AudioSink, should_stop: Callable[[], bool]) -> None:
        with self.torch.inference_mode():
            self.run_generate(text, self._voices[voice], streamer, should_stop)

    def from_pretrained(self, model_cls: Any, processor_cls: Any, dtype: Any) -> tuple[Any, Any]:
        """The model (from `self.model_id`, in `dtype`, on `self.device`) and its processor."""
        processor = processor_cls.from_pretrained(self.model_id)
        model = model_cls.from_pretrained(
            self.model_id, torch_dtype=dtype, device_map=self.device, attn_implementation="sdpa"
        )
        return model, processor

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
