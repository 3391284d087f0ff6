"""`vibevoice-tts`: run the TTS service."""

from __future__ import annotations

import os

# One BLAS thread, set before numpy loads: the resampler's matrix products are small and many run at
# once, and OpenBLAS's own worker threads would spin on the shared cores (measured: 7x the CPU time
# per request). A value from the environment still wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from collections.abc import Sequence

from vibevoice_platform.config import parse_settings
from vibevoice_platform.logs import configure_logging
from vibevoice_platform.server import serve
from vibevoice_platform.tts.app import create_app
from vibevoice_platform.tts.service import Status, SynthesisService
from vibevoice_platform.tts.settings import TTSSettings


def main(argv: Sequence[str] | None = None) -> None:
    """Parse flags over `VIBEVOICE_TTS_*` and serve until SIGTERM."""
    settings = parse_settings(TTSSettings, argv, "vibevoice-tts", "Streaming text-to-speech service")
    configure_logging(settings.log_level)
    app = create_app(settings)
    service: SynthesisService = app.state.service

    def drain() -> None:
        service.status = Status.DRAINING

    serve(
        app,
        host=settings.host,
        port=settings.port,
        drain_s=settings.drain_s,
        grace_s=settings.grace_s,
        on_drain=drain,
    )


if __name__ == "__main__":
    main()
