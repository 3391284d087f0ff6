"""Streaming encoders: PCM16 24 kHz mono in, each OpenAI response format's bytes out as the codec makes them.

`pcm` and `wav` need no codec. mp3, opus (in Ogg) and flac come from libsndfile (the `soundfile` wheel
bundles it with LAME, libopus and libFLAC: about 5 MB); aac comes from FFmpeg's encoder through PyAV,
an optional dependency (the `aac` extra: about 104 MB installed, so the slim image leaves it out and a
request for aac there is a 400 naming the extra).

An encoder writes into an append-only sink: a container writer that seeks back at the end to fill in a
header (FLAC's STREAMINFO totals, LAME's tag) cannot reach bytes already sent, so those rewrites are
dropped. What goes out is what a live stream is: FLAC with "total samples unknown", constant-bitrate
MP3, Ogg pages flushed every few tens of milliseconds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, BinaryIO, Protocol, cast

import numpy as np
import soundfile
from soundfile import _ffi, _snd  # pyright: ignore[reportPrivateUsage]

from vibevoice_platform.audio import SAMPLE_RATE, wav_header
from vibevoice_platform.tts.errors import UnsupportedError
from vibevoice_platform.tts.schemas import ResponseFormat

if TYPE_CHECKING:
    import av

MEDIA_TYPES: dict[ResponseFormat, str] = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}
# libsndfile's SFC_SET_OGG_PAGE_LATENCY_MS (sndfile.h; soundfile does not name it): without it an Ogg
# page, and so the first audio, waits for about a second of audio.
_SFC_SET_OGG_PAGE_LATENCY_MS = 0x1302
_OGG_PAGE_LATENCY_MS = 50.0
# LAME at constant bitrate: a VBR stream's header (frame count, seek table) is only known at the end.
# 0.6 of libsndfile's compression scale is 64 kbit/s at 24 kHz mono.
_MP3_COMPRESSION = 0.6
_AAC_BIT_RATE = 64_000
# libsndfile's container and subtype for each format it encodes.
_SOUNDFILE_FORMATS: dict[str, tuple[str, str]] = {
    "mp3": ("MP3", "MPEG_LAYER_III"),
    "opus": ("OGG", "OPUS"),
    "flac": ("FLAC", "PCM_16"),
}


class StreamEncoder(Protocol):
    """Turns PCM16 chunks into a format's bytes; each call returns what the codec has ready."""

    # A codec's work is worth a worker thread (the codecs release the GIL), so the event loop keeps
    # serving the other streams; copying pcm or wav is not.
    in_thread: bool

    def encode(self, pcm: bytes) -> bytes: ...

    def finish(self) -> bytes: ...


class _AppendOnlySink:
    """A file object for encoders: bytes written at the end are taken out by `take`; seeks back work,
    but writes before the end are dropped (they rewrite a header already sent)."""

    def __init__(self) -> None:
        self._pending = bytearray()
        self._end = 0
        self._position = 0

    def write(self, data: bytes) -> int:
        size = len(data)
        if self._position >= self._end:
            self._pending += data
            self._end += size
        self._position += size
        return size

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._position, 2: self._end}[whence]
        self._position = base + offset
        return self._position

    def tell(self) -> int:
        return self._position

    def read(self, size: int = -1) -> bytes:
        return b""

    def take(self) -> bytes:
        data = bytes(self._pending)
        self._pending.clear()
        return data


class _RawEncoder:
    """`pcm` as it is, or `wav` behind a header whose sizes say 'streaming'."""

    in_thread = False

    def __init__(self, header: bytes) -> None:
        self._header = header

    def encode(self, pcm: bytes) -> bytes:
        out, self._header = self._header + pcm, b""
        return out

    def finish(self) -> bytes:
        return self.encode(b"")


class _SoundFileEncoder:
    """mp3, Ogg Opus and FLAC through libsndfile."""

    in_thread = True

    def __init__(self, response_format: str) -> None:
        container, subtype = _SOUNDFILE_FORMATS[response_format]
        self._sink = _AppendOnlySink()
        mp3 = response_format == "mp3"
        self._file = soundfile.SoundFile(
            cast(BinaryIO, self._sink),  # the file protocol libsndfile's virtual I/O calls
            mode="w",
            samplerate=SAMPLE_RATE,
            channels=1,
            format=container,
            subtype=subtype,
            bitrate_mode="CONSTANT" if mp3 else None,
            compression_level=_MP3_COMPRESSION if mp3 else None,
        )
        if container == "OGG":
            latency = _ffi.new("double*", _OGG_PAGE_LATENCY_MS)
            _snd.sf_command(self._file._file, _SFC_SET_OGG_PAGE_LATENCY_MS, latency, _ffi.sizeof(latency))  # pyright: ignore[reportPrivateUsage]

    def encode(self, pcm: bytes) -> bytes:
        if pcm:
            self._file.buffer_write(pcm, dtype="int16")
        return self._sink.take()

    def finish(self) -> bytes:
        self._file.close()
        return self._sink.take()


class _AACEncoder:
    """AAC-LC in ADTS frames (self-delimiting, so a stream can be cut anywhere) through PyAV."""

    in_thread = True

    def __init__(self) -> None:
        import av

        self._sink = _AppendOnlySink()
        self._container = av.open(self._sink, mode="w", format="adts")
        self._stream = self._container.add_stream("aac", rate=SAMPLE_RATE, layout="mono")
        self._stream.bit_rate = _AAC_BIT_RATE
        self._pts = 0

    def _mux(self, frame: av.AudioFrame | None) -> bytes:
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        return self._sink.take()

    def encode(self, pcm: bytes) -> bytes:
        import av

        samples = np.frombuffer(pcm, dtype="<i2").reshape(1, -1)
        if samples.size == 0:
            return self._sink.take()
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._pts
        self._pts += samples.shape[1]
        return self._mux(frame)

    def finish(self) -> bytes:
        tail = self._mux(None)
        self._container.close()
        return tail + self._sink.take()


def aac_available() -> bool:
    """Whether PyAV (the `aac` extra) imports."""
    try:
        import av  # noqa: F401
    except ImportError:
        return False
    return True


def check_format(response_format: ResponseFormat) -> None:
    """Refuse, before any synthesis, a format whose encoder is not installed."""
    if response_format == "aac" and not aac_available():
        raise UnsupportedError(
            "aac needs PyAV, which this installation leaves out (pip install 'vibevoice-platform[aac]'); "
            "mp3, opus, flac, wav and pcm are available",
            param="response_format",
        )


def encoder_for(response_format: ResponseFormat) -> StreamEncoder:
    """A fresh encoder for one response."""
    if response_format == "pcm":
        return _RawEncoder(b"")
    if response_format == "wav":
        return _RawEncoder(wav_header())
    if response_format == "aac":
        check_format(response_format)
        return _AACEncoder()
    return _SoundFileEncoder(response_format)
