"""Encoders: PCM16 24 kHz mono in, each OpenAI response format's bytes out, streamed or as a whole file.

`pcm` and `wav` need no codec. mp3 and flac come from libsndfile (the `soundfile` wheel bundles it
with LAME and libFLAC: about 5 MB); aac from FFmpeg's encoder through PyAV, an optional dependency
(the `aac` extra: about 133 MB installed, so the slim image leaves it out and a request for aac there
is a 400 naming the extra). opus (in Ogg) comes from Xiph's libopusenc (`ogg_opus.py`: an Ogg page at
least every 60 ms, three 20 ms Opus frames, and the rest of each chunk's audio at once); where that
library is not installed, from libsndfile, whose Ogg pages each hold about a second of audio
(soundfile has no setting for libsndfile's page latency), so a stream's first audio waits for a second
of it: the service says so in its log when it starts.

Streamed (the default), an encoder writes into an append-only sink: a container writer that seeks
back at the end to fill in a header (FLAC's STREAMINFO totals, LAME's tag, the WAV sizes) cannot
reach bytes already sent, so those rewrites are dropped. What goes out is what a live stream is: FLAC
with "total samples unknown" (libsndfile cannot read that back: it reports 2^63-1 frames and fails to
seek), WAV sizes saying "unknown" (Python's `wave` reports 2^31-1 frames), constant-bitrate MP3; FFmpeg
and browsers read them all. As a whole file (`"stream": false`), the sink is a seekable buffer, so
every header is complete and any reader takes the file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, BinaryIO, Protocol, cast

import numpy as np
import soundfile

from vibevoice_platform.audio import SAMPLE_RATE, wav_header
from vibevoice_platform.tts import ogg_opus
from vibevoice_platform.tts.errors import UnsupportedError
from vibevoice_platform.tts.schemas import ResponseFormat

if TYPE_CHECKING:
    import av
    from av.audio.stream import AudioStream

MEDIA_TYPES: dict[ResponseFormat, str] = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}
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
AAC_EXTRA = "pip install -e '.[aac]' in a checkout, or pip install 'av>=14,<20'"


class StreamEncoder(Protocol):
    """Turns PCM16 chunks into a format's bytes; each call returns what is ready to send."""

    # A codec's work is worth a worker thread (the codecs release the GIL), so the event loop keeps
    # serving the other streams; copying pcm or wav is not.
    in_thread: bool

    def encode(self, pcm: bytes) -> bytes: ...

    def finish(self) -> bytes: ...


class _Sink:
    """The file object an encoder writes: streamed, bytes written at the end are taken out as they
    come and writes before the end (header rewrites of bytes already sent) are dropped; whole, a
    seekable file handed out complete when the encoder finishes."""

    def __init__(self, *, whole: bool) -> None:
        self._whole = whole
        self._data = bytearray()  # whole: the file; streamed: what is not yet taken
        self._taken = 0
        self._position = 0

    def _end(self) -> int:
        return self._taken + len(self._data)

    def write(self, data: bytes) -> int:
        size = len(data)
        if self._whole:
            self._data[self._position : self._position + size] = data
        elif self._position >= self._end():
            self._data += data
        self._position += size
        return size

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._position, 2: self._end()}[whence]
        self._position = base + offset
        return self._position

    def tell(self) -> int:
        return self._position

    def read(self, size: int = -1) -> bytes:
        return b""

    def take(self, *, final: bool = False) -> bytes:
        """What is ready to send: streamed, the new bytes; whole, the file once `final`."""
        if self._whole and not final:
            return b""
        data = bytes(self._data)
        self._taken += len(data)
        self._data.clear()
        return data


class _RawEncoder:
    """`pcm` as it is, or `wav`: streamed behind a header whose sizes say 'unknown', or whole behind
    the sizes it has."""

    in_thread = False

    def __init__(self, *, wav: bool, whole: bool) -> None:
        self._wav = wav
        self._whole = whole
        self._header = wav_header() if wav and not whole else b""
        self._held = bytearray()

    def encode(self, pcm: bytes) -> bytes:
        if self._whole:
            self._held += pcm
            return b""
        out, self._header = self._header + pcm, b""
        return out

    def finish(self) -> bytes:
        if not self._whole:
            return self.encode(b"")
        header = wav_header(data_size=len(self._held)) if self._wav else b""
        return header + bytes(self._held)


class _SoundFileEncoder:
    """mp3, FLAC (and Ogg Opus without libopusenc) through libsndfile."""

    in_thread = True

    def __init__(self, response_format: str, *, whole: bool) -> None:
        container, subtype = _SOUNDFILE_FORMATS[response_format]
        self._sink = _Sink(whole=whole)
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

    def encode(self, pcm: bytes) -> bytes:
        if pcm:
            self._file.buffer_write(pcm, dtype="int16")
        return self._sink.take()

    def finish(self) -> bytes:
        self._file.close()
        return self._sink.take(final=True)


class _AacEncoder:
    """aac through FFmpeg's encoder in PyAV, in ADTS frames: self-delimiting, so a stream can be cut
    anywhere."""

    in_thread = True

    def __init__(self, *, whole: bool) -> None:
        import av

        self._sink = _Sink(whole=whole)
        self._container = av.open(self._sink, mode="w", format="adts")
        stream = self._container.add_stream("aac", rate=SAMPLE_RATE, layout="mono")
        self._stream = cast("AudioStream", stream)
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
        return tail + self._sink.take(final=True)


def pyav_available() -> bool:
    """Whether PyAV (the `aac` extra) imports."""
    try:
        import av  # noqa: F401
    except ImportError:
        return False
    return True


def check_format(response_format: ResponseFormat) -> None:
    """Refuse, before any synthesis, a format whose encoder is not installed."""
    if response_format == "aac" and not pyav_available():
        raise UnsupportedError(
            f"aac needs PyAV, the `aac` extra, which this installation leaves out ({AAC_EXTRA}); "
            "mp3, opus, flac, wav and pcm are available",
            param="response_format",
        )


def encoder_for(response_format: ResponseFormat, *, whole: bool = False) -> StreamEncoder:
    """A fresh encoder for one response: streamed, or (`whole`) the complete file at `finish`."""
    if response_format in ("pcm", "wav"):
        return _RawEncoder(wav=response_format == "wav", whole=whole)
    if response_format == "aac":
        check_format(response_format)
        return _AacEncoder(whole=whole)
    if response_format == "opus" and ogg_opus.available():
        return ogg_opus.OggOpusEncoder(whole=whole)
    return _SoundFileEncoder(response_format, whole=whole)
