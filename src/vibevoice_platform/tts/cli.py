"""`vibevoice-tts`: run the TTS service."""

from __future__ import annotations

import os

# One BLAS thread, set before numpy loads: the service's numpy work is small and many requests run it
# at once, and OpenBLAS's worker threads would spin on the shared cores (measured when the resampler
# was a matrix product: 7x the CPU time per request). A value from the environment still wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import logging
from collections.abc import Sequence

from fastapi import FastAPI

from vibevoice_platform.config import parse_settings
from vibevoice_platform.server import run_service
from vibevoice_platform.tts import ogg_opus
from vibevoice_platform.tts.app import create_app
from vibevoice_platform.tts.settings import TTSSettings

PROG = "vibevoice-tts"
logger = logging.getLogger(__name__)


def _create_app(settings: TTSSettings) -> FastAPI:
    """The app, once the log is set up, saying first what this installation lacks."""
    if not ogg_opus.available():
        logger.warning(
            "opus comes from libsndfile here, about a second of audio per Ogg page, so an opus "
            "stream's first audio waits for a second of it; with libopusenc (Debian: apt-get install "
            "libopusenc0) it comes in pages of at most 60 ms"
        )
    return create_app(settings)


def main(argv: Sequence[str] | None = None) -> None:
    """Parse flags over `VIBEVOICE_TTS_*` and serve until SIGTERM."""
    settings = parse_settings(TTSSettings, argv, PROG, "Streaming text-to-speech service")
    run_service(settings, _create_app, PROG)


if __name__ == "__main__":
    main()
