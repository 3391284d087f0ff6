"""espeak-ng as a subprocess: real speech on any CPU, no weights.

The text goes in on stdin (never argv: no option injection, no length limit); the WAV comes out on
stdout as it is synthesised and is resampled from espeak-ng's 22.05 kHz to 24 kHz chunk by chunk. A
slow reader stalls the pipe and so espeak-ng itself (backpressure); closing the stream kills it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import AsyncGenerator, AsyncIterator, Mapping

import anyio
from anyio.abc import Process

from vibevoice_platform.audio import SAMPLE_RATE, WAV_HEADER_SIZE, PCMAligner, parse_wav_header
from vibevoice_platform.resample import StreamingResampler
from vibevoice_platform.tts.engines.base import Engine
from vibevoice_platform.tts.errors import EngineError

BASE_WPM = 175
MIN_WPM, MAX_WPM = 80, 500
READ_SIZE = 8192
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


class EspeakEngine(Engine):
    """Streams espeak-ng's speech, resampled to 24 kHz."""

    name = "espeak"

    def __init__(self, *, binary: str = "espeak-ng") -> None:
        self._binary = binary
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

    async def load(self) -> None:
        self._path = shutil.which(self._binary)
        if self._path is None:
            raise EngineError(f"{self._binary} not found on PATH; install the espeak-ng package")
        version = await anyio.run_process([self._path, "--version"])
        found = re.search(r"\d+\.\d+(\.\d+)?", version.stdout.decode())
        self._version = f"espeak-ng {found.group() if found else 'unknown'}"
        listing = await anyio.run_process([self._path, "--voices"])
        languages = [
            m.group(1) for line in listing.stdout.decode().splitlines()[1:] if (m := _VOICE_LINE.match(line))
        ]
        self._languages = tuple(dict.fromkeys(["en-us", *sorted(languages)]))

    async def synthesize(self, text: str, *, voice: str, speed: float) -> AsyncGenerator[bytes, None]:
        if self._path is None:
            raise EngineError("espeak engine used before load()")
        process = await anyio.open_process(
            espeak_command(self._path, voice, speed),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            async for chunk in self._stream(process, text):
                yield chunk
        finally:
            await _reap(process)

    async def _stream(self, process: Process, text: str) -> AsyncIterator[bytes]:
        assert process.stdin is not None
        assert process.stdout is not None
        async with process.stdin:
            await process.stdin.send(text.encode())
        header = b""
        aligner = PCMAligner()
        resampler: StreamingResampler | None = None
        async for data in process.stdout:
            pcm = data
            if resampler is None:
                header += data
                if len(header) < WAV_HEADER_SIZE:
                    continue
                rate, _, _ = parse_wav_header(header)
                resampler = StreamingResampler(rate, SAMPLE_RATE)
                pcm = header[WAV_HEADER_SIZE:]
            if out := resampler.process(aligner.push(pcm)):
                yield out
        code = await process.wait()
        if code != 0 or resampler is None:
            stderr = b"".join([part async for part in process.stderr]) if process.stderr else b""
            raise EngineError(f"espeak-ng exited with {code}: {stderr.decode(errors='replace').strip()}")
        if tail := resampler.flush():
            yield tail


async def _reap(process: Process) -> None:
    """Kill espeak-ng if it is still running and wait for it, even while being cancelled."""
    with anyio.CancelScope(shield=True):
        if process.returncode is None:
            process.kill()
        with anyio.move_on_after(5):
            await process.wait()
        await process.aclose()
