"""Streaming band-limited resampling of PCM16 (espeak-ng speaks at 22.05 kHz, the platform at 24 kHz).

A polyphase windowed-sinc filter: output sample n sits at input position n * down / up; its value is
the input around that position weighted by the filter phase for the fractional part. State between
chunks is the unconsumed input history, so chunk boundaries leave no clicks and no drift.
"""

from __future__ import annotations

from math import gcd

import numpy as np
import numpy.typing as npt

_HALF_TAPS = 16
_KAISER_BETA = 8.0


def _phase_filters(up: int, down: int) -> npt.NDArray[np.float64]:
    """One FIR per output phase, shape (up, 2 * _HALF_TAPS), low-passed below the lower Nyquist."""
    cutoff = min(1.0, up / down) * 0.95
    offsets = np.arange(-_HALF_TAPS + 1, _HALF_TAPS + 1, dtype=np.float64)
    fractions = np.arange(up, dtype=np.float64) / up
    distance = offsets[None, :] - fractions[:, None]
    window = np.kaiser(2 * _HALF_TAPS + 1, _KAISER_BETA)
    # Evaluate the (continuous) Kaiser window at each tap distance by interpolation.
    grid = np.linspace(-_HALF_TAPS, _HALF_TAPS, 2 * _HALF_TAPS + 1)
    taps = cutoff * np.sinc(cutoff * distance) * np.interp(distance, grid, window)
    return taps / taps.sum(axis=1, keepdims=True)


class StreamingResampler:
    """Resamples a PCM16 stream from `source_rate` to `target_rate`, chunk by chunk."""

    def __init__(self, source_rate: int, target_rate: int) -> None:
        divisor = gcd(source_rate, target_rate)
        self._up = target_rate // divisor
        self._down = source_rate // divisor
        self._filters = _phase_filters(self._up, self._down)
        # Input history starts with zeros so the first output sample has a full left context.
        self._history = np.zeros(_HALF_TAPS - 1, dtype=np.float64)
        self._consumed = -(_HALF_TAPS - 1)  # absolute input index of self._history[0]
        self._produced = 0  # output samples emitted so far

    def process(self, pcm: bytes) -> bytes:
        """Feed PCM16 bytes (whole samples); return the resampled PCM16 available so far."""
        if pcm:
            self._history = np.concatenate([self._history, np.frombuffer(pcm, dtype="<i2")])
        return self._emit()

    def flush(self) -> bytes:
        """Drain the tail at the end of the stream (the right context past the end is silence)."""
        self._history = np.concatenate([self._history, np.zeros(_HALF_TAPS, dtype=np.float64)])
        return self._emit()

    def _emit(self) -> bytes:
        # Output n reads inputs floor(n * down / up) - _HALF_TAPS + 1 .. floor(n * down / up) + _HALF_TAPS.
        last_base = self._consumed + len(self._history) - _HALF_TAPS - 1
        if last_base < 0:
            return b""
        count = ((last_base + 1) * self._up - 1) // self._down - self._produced + 1
        if count <= 0:
            return b""
        n = np.arange(self._produced, self._produced + count, dtype=np.int64)
        base = (n * self._down) // self._up
        phase = (n * self._down) % self._up
        index = base[:, None] + np.arange(-_HALF_TAPS + 1, _HALF_TAPS + 1)[None, :] - self._consumed
        values = np.einsum("ij,ij->i", self._history[index], self._filters[phase])
        self._produced += count
        keep_from = int(base[-1]) - (_HALF_TAPS - 1) - self._consumed
        self._history = self._history[keep_from:]
        self._consumed += keep_from
        return np.clip(np.rint(values), -32768, 32767).astype("<i2").tobytes()
