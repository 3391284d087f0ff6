"""Ogg Opus in small pages: Xiph's libopusenc (Debian's `libopusenc0`) through ctypes and its public C API.

libopusenc is the library opus-tools' `opusenc` is built on. Its pull API hands out each Ogg page as a
buffer, so no C callback is involved: after each chunk of PCM every page is taken, the last one closed
at once, so a stream's audio leaves as soon as its 20 ms Opus frames are encoded, in pages of at most
60 ms. The OpusHead says 24 kHz, the input rate. `libopusenc0` (69 KB, with `libopus0`, 400 KB, which
the image had already through espeak-ng's libsndfile) is in the TTS images.

Why this and not the others: measured with an engine that speaks in real time (`--engine sine
--sine-pace 1`, without PyAV, as the slim image; scripts/format-figures.py), opus's first audio came
151 ms after the request, as wav's (153 ms), and on 60 s of a tone in 100 ms chunks:
- libsndfile through soundfile (always there) puts about a second of audio in each Ogg page, and
  soundfile has no public setting for libsndfile's page latency: the first audio came after 1163 ms.
- PyAV (FFmpeg) makes 60 ms pages (226 ms to the first audio), but it is about 133 MB installed, with
  a 150 MB budget for the whole slim image.
- PyPI's bindings: opuslib (last release 2018) and its fork opuslib-next bind libopus's packets only,
  so the Ogg pages would still be ours; opuscodec (Fish Audio, two releases, libopusenc inside) has
  wheels for CPython 3.11 and 3.12 only and turns Opus 1.6's QEXT on by default; PyOgg's last release
  is from 2020.
- libopus with an Ogg writer of our own (RFC 3533 pages and CRC, RFC 7845 headers, granule positions,
  pre-skip, end trimming: 85 lines as a prototype) gave the same stream as libopusenc, as opusinfo
  reports both (20 ms packets, pages of at most 60 ms, 32 kbit/s plus 12.7 % Ogg overhead), for 7 %
  less CPU (0.88 % of a core per stream against 0.95 %: libopusenc resamples 24 kHz to 48 kHz) and
  69 KB less on disk. Not measurably better, so the library Xiph keeps beside libopus does it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import weakref

from vibevoice_platform.audio import SAMPLE_RATE

BIT_RATE = 32_000
PAGE_MS = 60
# libopusenc's requests (opusenc.h) and libopus's OPUS_SET_BITRATE, which it passes on.
_SET_DECISION_DELAY = 14000  # audio held back before encoding: its default is 2 s
_SET_MUXING_DELAY = 14002  # the most audio in one Ogg page, in 48 kHz samples: its default is 1 s
_SET_COMMENT_PADDING = 14004  # room left in OpusTags for tag editors: none in a stream
_SET_BITRATE = 4002
_BYTES_PER_SAMPLE = 2


@functools.cache
def libopusenc() -> ctypes.CDLL | None:
    """libopusenc with the prototypes used here, or None where it is not installed (or will not load)."""
    name = ctypes.util.find_library("opusenc")
    if name is None:
        return None
    try:
        lib = ctypes.CDLL(name)
    except OSError:  # listed by the loader's cache, but missing or broken
        return None
    handle, c_int, page_pointer = ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_ubyte)
    lib.ope_comments_create.restype = handle
    lib.ope_comments_create.argtypes = []
    lib.ope_comments_destroy.argtypes = [handle]
    lib.ope_encoder_create_pull.restype = handle
    lib.ope_encoder_create_pull.argtypes = [handle, ctypes.c_int32, c_int, c_int, ctypes.POINTER(c_int)]
    lib.ope_encoder_ctl.argtypes = [handle, c_int]  # variadic: each value goes as a c_int32
    lib.ope_encoder_flush_header.argtypes = [handle]
    lib.ope_encoder_write.argtypes = [handle, ctypes.c_char_p, c_int]
    lib.ope_encoder_get_page.argtypes = [
        handle,
        ctypes.POINTER(page_pointer),
        ctypes.POINTER(ctypes.c_int32),
        c_int,
    ]
    lib.ope_encoder_drain.argtypes = [handle]
    lib.ope_encoder_destroy.argtypes = [handle]
    lib.ope_strerror.restype = ctypes.c_char_p
    lib.ope_strerror.argtypes = [c_int]
    return lib


def available() -> bool:
    """Whether libopusenc loads here."""
    return libopusenc() is not None


class OggOpusEncoder:
    """PCM16 24 kHz mono in (native byte order: little-endian on every platform the images are built
    for), Ogg Opus pages out: streamed, those complete after each chunk; `whole`, the file at the end."""

    in_thread = True  # ctypes releases the GIL for each call into the library

    def __init__(self, *, whole: bool = False) -> None:
        lib = libopusenc()
        if lib is None:
            raise RuntimeError("libopusenc is not installed (Debian: apt-get install libopusenc0)")
        self._lib = lib
        self._whole = whole
        self._held = bytearray()  # whole: the file so far
        comments = lib.ope_comments_create()
        error = ctypes.c_int(0)
        try:
            handle = lib.ope_encoder_create_pull(comments, SAMPLE_RATE, 1, 0, ctypes.byref(error))
        finally:
            lib.ope_comments_destroy(comments)  # the encoder keeps a copy
        if not handle:
            self._check(error.value or -1)
        self._handle: int = handle
        self._free = weakref.finalize(self, lib.ope_encoder_destroy, handle)  # also if never finished
        for request, value in (
            (_SET_DECISION_DELAY, 0),
            (_SET_MUXING_DELAY, PAGE_MS * 48),
            (_SET_COMMENT_PADDING, 0),
            (_SET_BITRATE, BIT_RATE),
        ):
            self._check(lib.ope_encoder_ctl(handle, request, ctypes.c_int32(value)))
        self._check(lib.ope_encoder_flush_header(handle))

    def _check(self, code: int) -> None:
        if code < 0:
            self._free_now()
            raise RuntimeError(f"libopusenc: {self._lib.ope_strerror(code).decode()}")

    def _free_now(self) -> None:
        if hasattr(self, "_free"):
            self._free()

    def _pages(self) -> bytes:
        """Every page ready, the last one closed now: nothing encoded waits for a later chunk."""
        page = ctypes.POINTER(ctypes.c_ubyte)()
        size = ctypes.c_int32(0)
        pages = bytearray()
        get_page = self._lib.ope_encoder_get_page
        while ready := get_page(self._handle, ctypes.byref(page), ctypes.byref(size), 1):
            self._check(ready)
            pages += ctypes.string_at(page, size.value)
        if self._whole:
            self._held += pages
            return b""
        return bytes(pages)

    def encode(self, pcm: bytes) -> bytes:
        if pcm:
            self._check(self._lib.ope_encoder_write(self._handle, pcm, len(pcm) // _BYTES_PER_SAMPLE))
        return self._pages()

    def finish(self) -> bytes:
        """The stream's end (its last page carries the exact length), and the encoder freed."""
        if not self._free.alive:
            return b""
        try:
            self._check(self._lib.ope_encoder_drain(self._handle))
            tail = self._pages()
        finally:
            self._free_now()
        return bytes(self._held) if self._whole else tail
