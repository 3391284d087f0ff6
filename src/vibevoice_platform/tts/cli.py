"""`vibevoice-tts`: run the TTS service."""

from __future__ import annotations

import os

# One BLAS thread, set before numpy loads: the service's numpy work is small and many requests run it
# at once, and OpenBLAS's worker threads would spin on the shared cores (measured when the resampler
# was a matrix product: 7x the CPU time per request). A value from the environment still wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from collections.abc import Sequence

from vibevoice_platform.config import parse_settings
from vibevoice_platform.server import run_service
from vibevoice_platform.tts.app import create_app
from vibevoice_platform.tts.settings import TTSSettings

PROG = "vibevoice-tts"


def main(argv: Sequence[str] | None = None) -> None:
    """Parse flags over `VIBEVOICE_TTS_*` and serve until SIGTERM."""
    settings = parse_settings(TTSSettings, argv, PROG, "Streaming text-to-speech service")
    run_service(settings, create_app, PROG)


if __name__ == "__main__":
    main()
