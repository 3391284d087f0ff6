"""Synthesis engines behind one interface, and the factory that builds one from settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vibevoice_platform.tts.engines.base import Engine

if TYPE_CHECKING:
    from vibevoice_platform.tts.settings import TTSSettings

__all__ = ["Engine", "build_engine"]


def build_engine(settings: TTSSettings) -> Engine:
    """The engine named by the settings; heavy imports happen only for the engine chosen."""
    match settings.engine:
        case "sine":
            from vibevoice_platform.tts.engines.sine import SineEngine

            return SineEngine(pace=settings.sine_pace, first_cpu_s=settings.sine_first_cpu_ms / 1000)
        case "espeak":
            from vibevoice_platform.tts.engines.espeak import EspeakEngine

            # Unless told, one waiting espeak-ng per synthesis slot (see TTSSettings.espeak_warm).
            warm = settings.max_concurrency if settings.espeak_warm is None else settings.espeak_warm
            return EspeakEngine(binary=settings.espeak_binary, warm=warm)
        case "vibevoice":
            from vibevoice_platform.tts.engines.vibevoice import VibeVoiceEngine
            from vibevoice_platform.tts.engines.vibevoice_bindings import binding_for

            return VibeVoiceEngine(binding_for(settings))
