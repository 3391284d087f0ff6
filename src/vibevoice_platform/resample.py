"""Streaming band-limited resampling of PCM16 (espeak-ng speaks at 22.05 kHz, the platform at 24 kHz).

A polyphase windowed-sinc filter. For a rate change of up/down (24000/22050 = 160/147), output sample
n = up·j + r reads the inputs around position n·down/up = down·j + floor(r·down/up) + fraction, with
the filter phase of that fraction. Every block of `up` outputs therefore reads one window of
`down + taps - 1` inputs, starting `down` inputs after the previous block's window: the whole stream is
one matrix product of strided input windows with a fixed (up x window) matrix, which numpy does in a
single BLAS call per chunk. State between chunks is the unconsumed input, so chunk boundaries leave no
clicks and no drift, and the output does not depend on how the input was chunked.
"""

from __future__ import annotations

from functools import cache
from math import ceil, gcd

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

_HALF_TAPS = 16
_TAPS = 2 * _HALF_TAPS
_KAISER_BETA = 8.0


@cache
def _block_matrix_t(up: int, down: int) -> npt.NDArray[np.float32]:
    """(down + taps - 1, up), read-only and computed once per rate pair: column r holds output phase
    r's filter at its offset in the block window (transposed for the product with the windows)."""
    cutoff = min(1.0, up / down) * 0.95
    r = np.arange(up)
    offsets = (r * down) // up  # floor(r·down/up): where phase r's taps start in the window
    fractions = (r * down % up) / up
    distance = np.arange(-_HALF_TAPS + 1, _HALF_TAPS + 1)[None, :] - fractions[:, None]
    grid = np.linspace(-_HALF_TAPS, _HALF_TAPS, _TAPS + 1)
    taps = cutoff * np.sinc(cutoff * distance) * np.interp(distance, grid, np.kaiser(_TAPS + 1, _KAISER_BETA))
    taps /= taps.sum(axis=1, keepdims=True)
    matrix = np.zeros((up, down + _TAPS - 1), dtype=np.float32)
    for phase in range(up):
        matrix[phase, offsets[phase] : offsets[phase] + _TAPS] = taps[phase]
    transposed = np.ascontiguousarray(matrix.T)
    transposed.flags.writeable = False
    return transposed


class StreamingResampler:
    """Resamples a PCM16 stream from `source_rate` to `target_rate`, chunk by chunk."""

    def __init__(self, source_rate: int, target_rate: int) -> None:
        divisor = gcd(source_rate, target_rate)
        self._up = target_rate // divisor
        self._down = source_rate // divisor
        self._matrix_t = _block_matrix_t(self._up, self._down)
        self._window = self._down + _TAPS - 1
        # Zeros before the first sample give the first outputs their left context.
        self._pending = np.zeros(_HALF_TAPS - 1, dtype=np.float32)
        self._consumed = 0  # input samples received
        self._produced = 0  # output samples emitted

    def process(self, pcm: bytes) -> bytes:
        """Feed PCM16 bytes (whole samples); return the resampled PCM16 available so far."""
        samples = np.frombuffer(pcm, dtype="<i2")
        self._consumed += samples.size
        self._pending = np.concatenate([self._pending, samples.astype(np.float32)])
        return self._to_pcm(self._blocks(len(self._pending)))

    def flush(self) -> bytes:
        """End of the stream: emit the tail (the right context past the end is silence)."""
        remaining = ceil(self._consumed * self._up / self._down) - self._produced
        if remaining <= 0:
            return b""
        blocks = ceil(remaining / self._up)
        padded = self._down * (blocks - 1) + self._window
        self._pending = np.concatenate(
            [self._pending, np.zeros(max(0, padded - len(self._pending)), dtype=np.float32)]
        )
        tail = self._blocks(padded)[:remaining]
        self._produced -= self._up * blocks - remaining  # the padding's outputs were never emitted
        return self._to_pcm(tail)

    def _blocks(self, available: int) -> npt.NDArray[np.float32]:
        """Every whole block of `up` outputs whose input window lies within `available` samples."""
        if available < self._window:
            return np.empty(0, dtype=np.float32)
        count = (available - self._window) // self._down + 1
        windows = sliding_window_view(self._pending[:available], self._window)[:: self._down][:count]
        out = (windows @ self._matrix_t).reshape(-1)
        self._pending = self._pending[count * self._down :]
        self._produced += out.size
        return out

    @staticmethod
    def _to_pcm(values: npt.NDArray[np.float32]) -> bytes:
        return np.clip(np.rint(values), -32768, 32767).astype("<i2").tobytes()
