"""What one request measured: timings, audio, and the error that ended it, if any.

All durations are in milliseconds from the moment the request was sent (after the payload was built);
audio seconds are counted from the PCM16 24 kHz mono bytes received.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field

from pydantic import BaseModel

from vibevoice_platform.audio import duration_seconds


class ErrorType(enum.StrEnum):
    """Why a request failed, from the client's side."""

    CONNECT = "connect_error"  # refused, unreachable, DNS
    TIMEOUT = "timeout"  # no complete response within the per-request timeout
    HTTP = "http_error"  # a non-2xx status (code = the status)
    STREAM = "stream_error"  # the service reported an error inside the stream (code = its code)
    PROTOCOL = "protocol_error"  # the stream broke the protocol: cut short, malformed, unexpected
    NO_AUDIO = "no_audio"  # a complete response without any audio
    TRANSPORT = "transport_error"  # the connection failed mid-request


class RequestError(BaseModel):
    """An error as recorded: its type, a code where the service gave one, and a message."""

    type: ErrorType
    code: str | None = None
    message: str


class RequestFailed(Exception):
    """Raised by a driver to end a request with a recorded error."""

    def __init__(self, error_type: ErrorType, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.error = RequestError(type=error_type, code=code, message=message)


class RequestRecord(BaseModel):
    """One line of requests.jsonl."""

    index: int
    utterance: str
    chars: int
    offset_s: float  # when the request started, from the start of the measured phase
    ok: bool
    ttfa_ms: float | None = None
    e2e_latency_ms: float | None = None
    inter_chunk_gap_ms: float | None = None  # mean gap between audio chunks (needs 2 chunks)
    max_chunk_gap_ms: float | None = None
    chunks: int = 0
    bytes: int = 0
    audio_seconds: float = 0.0
    rtf: float | None = None  # e2e time / audio duration: below 1 is faster than real time
    extra: dict[str, float] = {}  # driver-specific timings: setup_ms, ttft_ms, server_* values
    error: RequestError | None = None


@dataclass
class StreamClock:
    """Arrival times of the audio of one request, against a perf_counter start."""

    started: float = field(default_factory=time.perf_counter)
    arrivals: list[float] = field(default_factory=list)
    bytes: int = 0
    ended: float | None = None

    def restart(self) -> None:
        """Start counting now (after a session handshake that is timed separately)."""
        self.started = time.perf_counter()

    def audio(self, nbytes: int) -> None:
        """Audio bytes arrived now."""
        if nbytes > 0:
            self.arrivals.append(time.perf_counter())
            self.bytes += nbytes

    def end(self) -> None:
        """The response is complete now."""
        self.ended = time.perf_counter()

    def since_start_ms(self, moment: float) -> float:
        """Milliseconds from the start to `moment`."""
        return (moment - self.started) * 1000


def measured(
    clock: StreamClock,
    *,
    index: int,
    utterance: str,
    chars: int,
    offset_s: float,
    extra: dict[str, float],
    error: RequestError | None,
) -> RequestRecord:
    """The record of a request from its clock; a complete response without audio is an error."""
    if error is None and clock.ended is not None and clock.bytes == 0:
        error = RequestError(type=ErrorType.NO_AUDIO, message="the response ended without any audio")
    gaps = [(b - a) * 1000 for a, b in zip(clock.arrivals, clock.arrivals[1:], strict=False)]
    audio_s = duration_seconds(clock.bytes)
    e2e = clock.since_start_ms(clock.ended) if clock.ended is not None and error is None else None
    return RequestRecord(
        index=index,
        utterance=utterance,
        chars=chars,
        offset_s=round(offset_s, 6),
        ok=error is None,
        ttfa_ms=_ms(clock.since_start_ms(clock.arrivals[0])) if clock.arrivals else None,
        e2e_latency_ms=_ms(e2e),
        inter_chunk_gap_ms=_ms(sum(gaps) / len(gaps)) if gaps else None,
        max_chunk_gap_ms=_ms(max(gaps)) if gaps else None,
        chunks=len(clock.arrivals),
        bytes=clock.bytes,
        audio_seconds=round(audio_s, 6),
        rtf=round(e2e / 1000 / audio_s, 6) if e2e is not None and audio_s > 0 else None,
        extra={k: round(v, 3) for k, v in extra.items()},
        error=error,
    )


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
