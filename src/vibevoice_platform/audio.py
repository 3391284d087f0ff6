"""PCM16 audio helpers shared by the engines, the services, the smoke test and the benchmark.

All audio inside the platform is mono signed 16-bit little-endian PCM at 24 kHz.
"""

from __future__ import annotations

import struct

import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 24_000
SAMPLE_WIDTH = 2
CHANNELS = 1
BYTES_PER_SECOND = SAMPLE_RATE * SAMPLE_WIDTH * CHANNELS
WAV_HEADER_SIZE = 44
_STREAMING_SIZE = 0xFFFFFFFF


def wav_header(sample_rate: int = SAMPLE_RATE, data_size: int | None = None) -> bytes:
    """A 44-byte RIFF/WAVE header for mono PCM16; with no size, the sizes say 'unknown' (streaming)."""
    data = _STREAMING_SIZE if data_size is None else data_size
    riff = _STREAMING_SIZE if data_size is None else 36 + data_size
    byte_rate = sample_rate * SAMPLE_WIDTH * CHANNELS
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        riff,
        b"WAVE",
        b"fmt ",
        16,
        1,
        CHANNELS,
        sample_rate,
        byte_rate,
        SAMPLE_WIDTH * CHANNELS,
        SAMPLE_WIDTH * 8,
        b"data",
        data,
    )


def parse_wav_header(header: bytes) -> tuple[int, int, int]:
    """Return (sample_rate, channels, bits per sample) of a canonical 44-byte PCM WAV header."""
    if len(header) < WAV_HEADER_SIZE or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
        raise ValueError("not a RIFF/WAVE header")
    fmt, channels, sample_rate = struct.unpack_from("<HHI", header, 20)
    (bits,) = struct.unpack_from("<H", header, 34)
    if fmt != 1:
        raise ValueError(f"WAV format {fmt} is not PCM")
    return sample_rate, channels, bits


def float_to_pcm16(samples: npt.ArrayLike) -> bytes:
    """Clip float samples in [-1, 1] and convert them to PCM16 bytes; NaN becomes silence."""
    array = np.nan_to_num(np.asarray(samples, dtype=np.float32).reshape(-1), nan=0.0)
    return (np.clip(array, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def pcm16_to_float(pcm: bytes) -> npt.NDArray[np.float32]:
    """PCM16 bytes to float samples in [-1, 1]."""
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


def rms_dbfs(pcm: bytes) -> float:
    """Loudness of PCM16 audio in dB relative to full scale (-inf for digital silence)."""
    samples = pcm16_to_float(pcm[: len(pcm) - len(pcm) % SAMPLE_WIDTH])
    if samples.size == 0:
        return float("-inf")
    power = float(np.mean(np.square(samples, dtype=np.float64)))
    return 10.0 * float(np.log10(power)) if power > 0 else float("-inf")


def duration_seconds(pcm_bytes: int, sample_rate: int = SAMPLE_RATE) -> float:
    """Duration of `pcm_bytes` bytes of mono PCM16."""
    return pcm_bytes / (sample_rate * SAMPLE_WIDTH)


class PCMAligner:
    """Re-chunks a byte stream on whole-sample boundaries (a pipe may split a sample in two)."""

    def __init__(self) -> None:
        self._carry = b""

    def push(self, data: bytes) -> bytes:
        """Return the whole samples seen so far, keeping an odd trailing byte for the next push."""
        data = self._carry + data
        cut = len(data) - len(data) % SAMPLE_WIDTH
        self._carry = data[cut:]
        return data[:cut]
