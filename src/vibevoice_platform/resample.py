"""Streaming resampling of PCM16 (espeak-ng speaks at 22.05 kHz, the platform at 24 kHz).

A thin adapter over libsoxr's streaming resampler (python-soxr), which keeps the filter state between
chunks, so chunk borders leave no click and the stream no drift. Its output is not bit-identical for
every way of chunking the same input (libsoxr's FFT block processing rounds differently, by a few
LSB); what a listener hears is the same, and that is what the tests assert. Measured against the
hand-written polyphase filter it replaced (scripts/bench_resampler.py): a third of the CPU per second
of audio, and no dependence on the BLAS kernel the machine's CPU selects.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import soxr

# libsoxr's "high quality" preset (its default): a 20-bit passband to 91% of the lower Nyquist.
_QUALITY: Final = "HQ"


class StreamingResampler:
    """Resamples a PCM16 stream from `source_rate` to `target_rate`, chunk by chunk."""

    def __init__(self, source_rate: int, target_rate: int) -> None:
        self._stream = soxr.ResampleStream(source_rate, target_rate, 1, dtype="int16", quality=_QUALITY)

    def process(self, pcm: bytes) -> bytes:
        """Feed PCM16 bytes (whole samples); return the resampled PCM16 available so far."""
        return self._stream.resample_chunk(np.frombuffer(pcm, dtype="<i2")).tobytes()

    def flush(self) -> bytes:
        """End of the stream: emit the tail the filter still holds."""
        return self._stream.resample_chunk(np.empty(0, dtype="<i2"), last=True).tobytes()
