from __future__ import annotations

import math

import numpy as np
import pytest

from vibevoice_platform.audio import (
    PCMAligner,
    duration_seconds,
    float_to_pcm16,
    parse_wav_header,
    pcm16_to_float,
    rms_dbfs,
    wav_header,
)
from vibevoice_platform.resample import StreamingResampler


def test_wav_header_round_trip_and_streaming_sizes() -> None:
    header = wav_header()
    assert len(header) == 44
    assert parse_wav_header(header) == (24_000, 1, 16)
    assert header[4:8] == b"\xff\xff\xff\xff"
    sized = wav_header(data_size=480)
    assert int.from_bytes(sized[40:44], "little") == 480
    assert int.from_bytes(sized[4:8], "little") == 36 + 480


def test_parse_wav_header_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="RIFF"):
        parse_wav_header(b"\x00" * 44)


def test_float_to_pcm16_clips_and_silences_nan() -> None:
    pcm = float_to_pcm16([0.0, 0.5, 2.0, -3.0, float("nan")])
    assert np.frombuffer(pcm, "<i2").tolist() == [0, 16383, 32767, -32767, 0]
    assert pcm16_to_float(pcm)[2] == pytest.approx(1.0, abs=1e-4)


def test_rms_dbfs() -> None:
    assert rms_dbfs(b"\x00\x00" * 100) == -math.inf
    full_scale_sine = float_to_pcm16(np.sin(2 * np.pi * np.arange(2400) / 24))
    assert rms_dbfs(full_scale_sine) == pytest.approx(-3.0, abs=0.1)
    assert rms_dbfs(b"") == -math.inf


def test_duration() -> None:
    assert duration_seconds(48_000) == 1.0


def test_aligner_keeps_odd_bytes_for_the_next_push() -> None:
    aligner = PCMAligner()
    assert aligner.push(b"\x01\x02\x03") == b"\x01\x02"
    assert aligner.push(b"\x04") == b"\x03\x04"
    assert aligner.push(b"") == b""


def _sine_pcm(frequency: float, rate: int, seconds: float) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    return (np.sin(2 * np.pi * frequency * t) * 10_000).astype("<i2").tobytes()


@pytest.mark.parametrize("frequency", [200.0, 1000.0, 8000.0])
def test_resampler_preserves_tones_and_length(frequency: float) -> None:
    resampler = StreamingResampler(22_050, 24_000)
    source = _sine_pcm(frequency, 22_050, 1.0)
    out = b"".join(resampler.process(source[i : i + 1000]) for i in range(0, len(source), 1000))
    out += resampler.flush()
    samples = np.frombuffer(out, "<i2").astype(np.float64)
    assert len(samples) == 24_000
    reference = np.sin(2 * np.pi * frequency * np.arange(len(samples)) / 24_000) * 10_000
    assert np.max(np.abs(samples[64:-64] - reference[64:-64])) < 40  # -48 dB of the signal


def _resample_in_pieces(source: bytes, sizes: list[int]) -> bytes:
    resampler = StreamingResampler(22_050, 24_000)
    out, offset = b"", 0
    for size in sizes:
        out += resampler.process(source[offset : offset + size])
        offset += size
    assert offset == len(source)
    return out + resampler.flush()


def test_resampler_chunk_borders_are_inaudible() -> None:
    # However the stream is cut (single samples, odd sizes, one piece), the output has the same
    # length and stays within a few LSB (under -78 dBFS) of the uncut stream: no click, no drift.
    # Exact equality is not promised: the resampler's block arithmetic rounds differently per cut.
    source = np.random.default_rng(1).integers(-5000, 5000, 10_000).astype("<i2").tobytes()
    whole = np.frombuffer(_resample_in_pieces(source, [len(source)]), "<i2").astype(np.int32)
    for sizes in ([2, 14, 700, 3000, 2, 16282], [2] * 200 + [19_600], [4096] * 4 + [3616]):
        cut = np.frombuffer(_resample_in_pieces(source, sizes), "<i2").astype(np.int32)
        assert len(cut) == len(whole)
        assert np.max(np.abs(cut - whole)) <= 4


def test_resampler_does_not_hold_back_the_first_chunk() -> None:
    # espeak-ng writes its first audio in one chunk of a few thousand bytes: nearly all of it must come
    # out at once (the filter may keep a few ms of lookahead), not wait for the next chunk.
    resampler = StreamingResampler(22_050, 24_000)
    first = resampler.process(_sine_pcm(440.0, 22_050, 1024 / 22_050))
    expected = 1024 * 24_000 / 22_050
    assert len(first) // 2 >= expected - 24_000 * 0.012  # at most 12 ms of audio held back


def test_resampler_attenuates_above_the_source_nyquist_region() -> None:
    # 11 kHz sits just under 22.05 kHz's Nyquist: it passes; nothing new appears near 12 kHz.
    resampler = StreamingResampler(22_050, 24_000)
    out = resampler.process(_sine_pcm(10_000.0, 22_050, 1.0)) + resampler.flush()
    spectrum = np.abs(np.fft.rfft(np.frombuffer(out, "<i2").astype(np.float64)))
    frequencies = np.fft.rfftfreq(len(out) // 2, 1 / 24_000)
    peak = frequencies[np.argmax(spectrum)]
    assert abs(peak - 10_000) < 5
    leakage = spectrum[frequencies > 11_500].max() / spectrum.max()
    assert leakage < 0.01
