"""Which model binding serves `--engine vibevoice`: the model family, chosen from settings.

- `realtime`: Microsoft's VibeVoice realtime 0.5B streaming classes (installed from its repository in
  the cuda image), with cached voice prompts.
- `longform`: the long-form model API as the PyPI `vibevoice` package ships it, with voice samples.
- `auto`: realtime when its classes import, else longform. Probing imports the model package, which
  pulls in torch (seconds), so it happens when the model loads, in the worker thread, while /health
  already answers.
- `--model tiny-random` is a tiny randomly initialised model built in memory, for the family chosen
  the same way (realtime where Microsoft's classes import, as in the cuda image, else long-form).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from vibevoice_platform.tts.engines.base import LoadProgress
from vibevoice_platform.tts.engines.vibevoice_interface import AudioSink, ModelBinding
from vibevoice_platform.tts.engines.vibevoice_longform import LongformBinding
from vibevoice_platform.tts.engines.vibevoice_realtime import MODEL_MODULE as REALTIME_MODULE
from vibevoice_platform.tts.engines.vibevoice_realtime import RealtimeBinding
from vibevoice_platform.tts.engines.vibevoice_runtime import import_module
from vibevoice_platform.tts.engines.vibevoice_tiny import TINY_RANDOM, TinyRandomBinding, TinyRealtimeBinding
from vibevoice_platform.tts.errors import EngineError

if TYPE_CHECKING:
    from vibevoice_platform.tts.settings import TTSSettings

logger = logging.getLogger(__name__)


def realtime_importable() -> bool:
    """True when Microsoft's realtime streaming classes import here."""
    try:
        import_module(REALTIME_MODULE)
    except EngineError as exc:
        logger.info("model family: long-form (the realtime classes do not import: %s)", exc.message)
        return False
    return True


def family_binding(settings: TTSSettings, family: str) -> ModelBinding:
    """The binding of one model family for the configured model."""
    assert settings.model is not None
    if settings.model == TINY_RANDOM:
        tiny = TinyRealtimeBinding if family == "realtime" else TinyRandomBinding
        return tiny(
            device=settings.device,
            dtype=settings.dtype,
            cfg_scale=settings.cfg_scale,
            diffusion_steps=settings.diffusion_steps,
            threads=settings.torch_threads,
        )
    common = {
        "model_path": settings.model,
        "voices_dir": settings.voices_dir,
        "device": settings.device,
        "dtype": settings.dtype,
        "cfg_scale": settings.cfg_scale,
        "diffusion_steps": settings.diffusion_steps,
        "threads": settings.torch_threads,
        "attention": settings.attention,
        "tokenizer": settings.tokenizer,
    }
    if family == "realtime":
        return RealtimeBinding(**common)
    return LongformBinding(**common)


class AutoBinding(ModelBinding):
    """Picks the family when it loads (the probe is an import of the model package) and delegates."""

    def __init__(self, settings: TTSSettings, probe: Callable[[], bool] = realtime_importable) -> None:
        assert settings.model is not None
        self.model_id = settings.model
        self._settings = settings
        self._probe = probe
        self._chosen: ModelBinding | None = None

    @property
    def voices(self) -> Sequence[str]:
        return self._chosen.voices if self._chosen is not None else ()

    def load(self, progress: LoadProgress) -> None:
        chosen = family_binding(self._settings, "realtime" if self._probe() else "longform")
        chosen.load(progress)
        self._chosen = chosen

    def generate(self, text: str, voice: str, streamer: AudioSink, should_stop: Callable[[], bool]) -> None:
        if self._chosen is None:
            raise EngineError("the model is not loaded yet")
        self._chosen.generate(text, voice, streamer, should_stop)


def binding_for(settings: TTSSettings) -> ModelBinding:
    """The binding `settings` ask for (TTSSettings has refused the combinations that cannot work)."""
    if settings.model_family == "auto":
        return AutoBinding(settings)
    return family_binding(settings, settings.model_family)
