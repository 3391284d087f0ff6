"""Ogg Opus from libopusenc: valid pages (CRCs recomputed here), RFC 7845 headers, 20 ms packets in pages
of at most 60 ms, audio out with the chunk that completes it, and the exact length at the end; decoded
by FFmpeg (PyAV), a decoder other than the encoder's library."""

from __future__ import annotations

import random
import struct

import numpy as np
import pytest

from tests.integration.decode import decode_to_pcm16
from tests.support.ogg import Page, read_pages
from tests.support.tools import unavailable
from vibevoice_platform.audio import SAMPLE_RATE, float_to_pcm16, rms_dbfs
from vibevoice_platform.tts import ogg_opus

MS = SAMPLE_RATE // 1000  # samples per millisecond
GRANULE_MS = 48  # granule positions count 48 kHz samples, whatever the input rate
TONE = float_to_pcm16(0.3 * np.sin(2 * np.pi * 330 * np.arange(2 * SAMPLE_RATE) / SAMPLE_RATE))


@pytest.fixture(autouse=True)
def _libopusenc() -> None:
    if not ogg_opus.available():
        unavailable("libopusenc not installed (Debian: apt-get install libopusenc0)")


def _chunks(pcm: bytes, sizes: list[int]) -> list[bytes]:
    """`pcm` cut into pieces of `sizes` samples, cycled; the last piece is what remains."""
    pieces, start, index = [], 0, 0
    while start < len(pcm):
        end = start + 2 * sizes[index % len(sizes)]
        pieces.append(pcm[start:end])
        start, index = end, index + 1
    return pieces


def _pre_skip(head: Page) -> int:
    (packet,) = head.packets
    magic, version, channels, pre_skip, rate = struct.unpack_from("<8sBBHI", packet)
    assert (magic, version, channels, rate) == (b"OpusHead", 1, 1, SAMPLE_RATE)
    return pre_skip


RANDOM_SIZES = random.Random(7).choices(range(1, 150 * MS), k=40)


@pytest.mark.parametrize(
    "sizes", [[100 * MS], [7 * MS, 13 * MS], RANDOM_SIZES], ids=["100ms", "7-13ms", "random"]
)
def test_a_stream_is_valid_ogg_opus_in_pages_of_at_most_60_ms(sizes: list[int]) -> None:
    encoder = ogg_opus.OggOpusEncoder()
    stream = b"".join(encoder.encode(chunk) for chunk in _chunks(TONE, sizes)) + encoder.finish()
    pages = read_pages(stream)
    assert all(page.crc_valid for page in pages)
    assert {page.serial for page in pages} == {pages[0].serial}
    assert [page.sequence for page in pages] == list(range(len(pages)))
    head, tags, *audio = pages
    assert [page.first for page in pages] == [True] + [False] * (len(pages) - 1)
    assert [page.last for page in pages] == [False] * (len(pages) - 1) + [True]
    assert not any(page.continued for page in pages)
    pre_skip = _pre_skip(head)
    assert 0 < pre_skip < 20 * GRANULE_MS
    assert tags.packets[0].startswith(b"OpusTags")
    assert (head.granule, tags.granule) == (0, 0)
    granules = [0] + [page.granule for page in audio]
    for before, page in zip(granules, audio[:-1], strict=False):  # 20 ms per packet, 60 ms at most a page
        assert page.granule - before == 20 * GRANULE_MS * len(page.packets)
        assert 1 <= len(page.packets) <= 3
    assert 0 < audio[-1].granule - granules[-2] <= 60 * GRANULE_MS
    samples = len(TONE) // 2
    assert audio[-1].granule - pre_skip == samples * GRANULE_MS // MS  # the end trimmed to the input
    codec, pcm = decode_to_pcm16(stream)
    assert codec == "opus"
    assert len(pcm) == len(TONE)
    assert abs(rms_dbfs(pcm) - rms_dbfs(TONE)) < 1


def test_audio_leaves_with_the_chunk_that_completes_it() -> None:
    """20 ms chunks, as a realtime engine could send them: the first audio page is out by the third,
    and then each chunk's 20 ms packet leaves with it, in a page of its own."""
    encoder = ogg_opus.OggOpusEncoder()
    outputs = [encoder.encode(chunk) for chunk in _chunks(TONE, [20 * MS])]
    encoder.finish()
    first_audio = next(i for i, out in enumerate(outputs) if any(p.granule for p in read_pages(out)))
    assert first_audio <= 2  # after at most 60 ms of audio
    _, heard = decode_to_pcm16(b"".join(outputs[: first_audio + 1]))
    assert len(heard) > 0
    for out in outputs[first_audio + 1 :]:
        assert [len(page.packets) for page in read_pages(out)] == [1]


def test_a_whole_file_comes_at_the_end_with_its_exact_length() -> None:
    encoder = ogg_opus.OggOpusEncoder(whole=True)
    assert not any(encoder.encode(chunk) for chunk in _chunks(TONE, [100 * MS]))
    whole = encoder.finish()
    pages = read_pages(whole)
    assert all(page.crc_valid for page in pages)
    assert pages[-1].granule - _pre_skip(pages[0]) == len(TONE) // 2 * GRANULE_MS // MS
    _, pcm = decode_to_pcm16(whole)
    assert len(pcm) == len(TONE)
    assert encoder.finish() == b""  # freed: a second finish has nothing to give
