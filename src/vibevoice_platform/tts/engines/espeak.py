"""espeak-ng as a subprocess: real speech on any CPU, no weights.

The text goes in on stdin (never argv: no option injection, no length limit); the WAV comes out on
stdout as it is synthesised and is resampled from espeak-ng's 22.05 kHz to 24 kHz chunk by chunk. A
slow reader stalls the pipe and so espeak-ng itself (backpressure); closing the stream kills it.

Most of espeak-ng's time to first audio is its own start-up (loading its phoneme data and voice:
about 10 of its 12 ms here; from text to first audio, once started, well under 1 ms). With `warm` > 0
the engine keeps that many processes started ahead of their request, waiting on stdin (`WarmPool`);
the service keeps one per synthesis slot unless told otherwise (`--espeak-warm`). A waiting espeak-ng
has written nothing (its WAV header comes with its first audio): that is how tests and scripts/soak.py
tell the waiting from the speaking. Were the service killed outright, those waiting would read the end
of their input, say nothing and exit.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import warnings
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Mapping, Sequence
from contextlib import aclosing, contextmanager
from dataclasses import dataclass

import anyio
from anyio.abc import Process

from vibevoice_platform.audio import SAMPLE_RATE, WAV_HEADER_SIZE, PCMAligner, parse_wav_header
from vibevoice_platform.resample import StreamingResampler
from vibevoice_platform.tts.engines.base import Engine, LoadProgress, no_progress
from vibevoice_platform.tts.errors import EngineError

BASE_WPM = 175
# espeak-ng speaks no slower than 80 words a minute (a slower -s is 80); faster it follows -s well past
# 4x (measured: 700 is 3.95 times as short as 175). So speed 1 is 175, and 0.46 (80) to 4.0 (700) is
# what it really does; a speed below that is refused, not silently spoken at 0.46.
MIN_WPM, MAX_WPM = 80, 700
READ_SIZE = 8192
ESPEAK_RATE = 22_050  # Hz, espeak-ng's own voices
# OpenAI voice → espeak-ng voice with a variant, picked for a spread of pitch and accent.
ALIASES = {
    "alloy": "en-us+m3",
    "ash": "en-us+m1",
    "ballad": "en-gb+m2",
    "coral": "en-us+f2",
    "echo": "en-us+m5",
    "fable": "en-gb-x-rp+m3",
    "nova": "en-us+f3",
    "onyx": "en-us+m7",
    "sage": "en-gb+f3",
    "shimmer": "en-us+f4",
    "verse": "en-gb-scotland+m3",
}
_VOICE_LINE = re.compile(r"^\s*\d+\s+(\S+)\s")


def espeak_command(binary: str, voice: str, speed: float) -> list[str]:
    """espeak-ng's command line for one synthesis: text on stdin, a WAV on stdout (what the engine
    runs, and what scripts/bench-services.py runs as the floor the service is measured against)."""
    wpm = round(min(MAX_WPM, max(MIN_WPM, BASE_WPM * speed)))
    return [binary, "--stdout", "--stdin", "-v", voice, "-s", str(wpm)]


@dataclass(frozen=True)
class Speaker:
    """An espeak-ng process and the resampler for its speech, both made before its text is known.

    The resampler is made with the process, for the rate of espeak-ng's own voices (replaced if the
    WAV header says otherwise, as for an mbrola voice), so a request's first chunk does not wait for
    it: libsoxr designs its filter then, 50 to 200 us here depending on the load.
    """

    process: Process
    resampler: StreamingResampler


class WarmPool:
    """espeak-ng processes started ahead of their request, each waiting on stdin for its text.

    A process serves one request (espeak-ng reads its text to end of input, speaks it and exits), and
    is replaced after use by one for the same command line, so the pool follows the voices and speeds
    in use; at most `size` wait, the oldest going first. A waiting process costs no CPU; one that died
    while waiting is passed over. `aclose` kills those still waiting, and any started after it.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._idle: deque[tuple[tuple[str, ...], Speaker]] = deque()
        self._closed = False

    @property
    def idle(self) -> int:
        """Processes waiting now."""
        return len(self._idle)

    async def take(self, command: Sequence[str]) -> Speaker | None:
        """A waiting process started with exactly `command` (it leaves the pool), or None."""
        key = tuple(command)
        for entry in [e for e in self._idle if e[1].process.returncode is not None]:
            self._idle.remove(entry)
            await _reap(entry[1].process)
        for entry in self._idle:
            if entry[0] == key:
                self._idle.remove(entry)
                return entry[1]
        return None

    async def replace(self, command: Sequence[str]) -> None:
        """Start one process for `command` (one was just used), dropping the oldest beyond `size`."""
        if self._closed or self._size == 0:
            return
        with anyio.CancelScope(shield=True):  # a process started is a process kept track of
            speaker = await _spawn(command)
            self._idle.append((tuple(command), speaker))
            while len(self._idle) > self._size or (self._closed and self._idle):
                await _reap(self._idle.popleft()[1].process)

    async def aclose(self) -> None:
        """Kill every waiting process; none is started afterwards."""
        self._closed = True
        while self._idle:
            await _reap(self._idle.popleft()[1].process)


class EspeakEngine(Engine):
    """Streams espeak-ng's speech, resampled to 24 kHz."""

    name = "espeak"
    speed_range = (MIN_WPM / BASE_WPM, MAX_WPM / BASE_WPM)

    def __init__(self, *, binary: str = "espeak-ng", warm: int | None = 0) -> None:
        """`warm`: how many processes wait for their text (`WarmPool`); None for one per slot of the
        service's default concurrency (`default_concurrency`)."""
        self._binary = binary
        self._warm = self.default_concurrency if warm is None else warm
        self._pool = WarmPool(self._warm)
        self._path: str | None = None
        self._version = "espeak-ng"
        self._languages: tuple[str, ...] = ("en-us",)

    @property
    def model(self) -> str:
        return self._version

    @property
    def native_voices(self) -> tuple[str, ...]:
        return self._languages

    @property
    def aliases(self) -> Mapping[str, str]:
        return ALIASES

    @property
    def default_voice(self) -> str:
        return "en-us"

    def resolve_voice(self, voice: str | None) -> str:
        """Native voices may carry a variant, as in espeak-ng itself: 'en-gb+f2'."""
        if voice is not None and "+" in voice:
            language, _, variant = voice.partition("+")
            if language in self._languages and variant.isalnum():
                return voice
        return super().resolve_voice(voice)

    async def load(self, progress: LoadProgress = no_progress) -> None:
        self._path = shutil.which(self._binary)
        if self._path is None:
            raise EngineError(f"{self._binary} not found on PATH; install the espeak-ng package")
        version = await anyio.run_process([self._path, "--version"])
        found = re.search(r"\d+\.\d+(\.\d+)?", version.stdout.decode())
        self._version = f"espeak-ng {found.group() if found else 'unknown'}"
        progress("espeak-ng --version")
        listing = await anyio.run_process([self._path, "--voices"])
        progress("espeak-ng --voices")
        languages = [
            m.group(1) for line in listing.stdout.decode().splitlines()[1:] if (m := _VOICE_LINE.match(line))
        ]
        self._languages = tuple(dict.fromkeys(["en-us", *sorted(languages)]))
        for _ in range(self._warm):
            await self._pool.replace(espeak_command(self._path, self.default_voice, 1.0))

    async def aclose(self) -> None:
        await self._pool.aclose()

    async def synthesize(self, text: str, *, voice: str, speed: float) -> AsyncGenerator[bytes, None]:
        if self._path is None:
            raise EngineError("espeak engine used before load()")
        command = espeak_command(self._path, voice, speed)
        warm = await self._pool.take(command)
        if warm is not None:
            spoke = False
            try:
                async with aclosing(self._speak(warm, text, command)) as chunks:
                    async for chunk in chunks:
                        spoke = True
                        yield chunk
                return
            except (EngineError, anyio.BrokenResourceError):
                if spoke:
                    raise
                # It died while it waited (killed from outside): start one, as without the pool.
        async with aclosing(self._speak(await _spawn(command), text, command)) as chunks:
            async for chunk in chunks:
                yield chunk

    async def _speak(self, speaker: Speaker, text: str, command: list[str]) -> AsyncGenerator[bytes, None]:
        """`speaker`'s speech of `text`; a process for `command` joins the pool once the first chunk
        is out (never on its way), and the speaker's process is killed however the stream ends."""
        spoke = replaced = False
        try:
            async for chunk in self._stream(speaker, text):
                spoke = True
                yield chunk
                if not replaced:
                    replaced = True
                    await self._pool.replace(command)
        finally:
            await _reap(speaker.process)
            if spoke and not replaced:  # the stream was closed right after its first chunk
                await self._pool.replace(command)

    async def _stream(self, speaker: Speaker, text: str) -> AsyncIterator[bytes]:
        process, resampler = speaker.process, speaker.resampler
        assert process.stdin is not None
        assert process.stdout is not None
        async with process.stdin:
            await process.stdin.send(text.encode())
        aligner = PCMAligner()
        header: bytes | None = b""  # None once read
        async for data in process.stdout:
            pcm = data
            if header is not None:
                header += data
                if len(header) < WAV_HEADER_SIZE:
                    continue
                rate, _, _ = parse_wav_header(header)
                if rate != ESPEAK_RATE:
                    resampler = StreamingResampler(rate, SAMPLE_RATE)
                pcm, header = header[WAV_HEADER_SIZE:], None
            if out := resampler.process(aligner.push(pcm)):
                yield out
        code = await process.wait()
        if code != 0 or header is not None:
            stderr = b"".join([part async for part in process.stderr]) if process.stderr else b""
            raise EngineError(f"espeak-ng exited with {code}: {stderr.decode(errors='replace').strip()}")
        if tail := resampler.flush():
            yield tail


async def _spawn(command: Sequence[str]) -> Speaker:
    process = await anyio.open_process(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    return Speaker(process, StreamingResampler(ESPEAK_RATE, SAMPLE_RATE))


async def _reap(process: Process) -> None:
    """Kill espeak-ng if it is still running and wait for it, even while being cancelled."""
    with anyio.CancelScope(shield=True):
        if process.returncode is None:
            process.kill()
        with anyio.move_on_after(5):
            await process.wait()
        await process.aclose()


@contextmanager
def pidfd_child_watcher() -> Iterator[None]:
    """On Python 3.11, have asyncio learn of espeak-ng's exits from a pidfd in this event loop rather
    than from a thread per process (its default there; 3.12 uses pidfds itself, and drops child
    watchers). Starting that thread is part of every spawn, and `Thread.start` waits until the new
    thread runs: on a loaded machine, milliseconds in which the event loop serves no one (measured
    here at load 15: a spawn took 11 ms at the median, 3 to 8 ms with a pidfd). The service's
    lifespan enters it, in the loop that will serve; leaving puts the previous watcher back."""
    if sys.version_info >= (3, 12) or not hasattr(os, "pidfd_open"):
        yield
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        previous = asyncio.get_child_watcher()
        watcher = asyncio.PidfdChildWatcher()
        watcher.attach_loop(asyncio.get_running_loop())
        asyncio.set_child_watcher(watcher)
    try:
        yield
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            asyncio.set_child_watcher(previous)
            watcher.close()
