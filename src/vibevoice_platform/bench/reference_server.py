"""A reference streaming server: known timings, no work, for calibrating and testing the load generator.

It speaks just enough HTTP/1.1 (keep-alive, chunked responses) to look like the services to
`vibevoice-bench run`: `POST /v1/audio/speech` streams PCM16 and `POST /v1/agent/turn` streams the
agent's SSE events, each exactly `--delay-ms` after the whole request has arrived (slept, then spun for
the last 2 ms, so the event loop's millisecond timer rounding does not blur it). With no delay it is
a null server, which measures the generator's own capacity and overhead.

    python -m vibevoice_platform.bench.reference_server --port 8099 --delay-ms 50 --chunks 4
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

SPIN_S = 0.002
_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 500: "Internal Server Error"}


@dataclass(frozen=True)
class Timings:
    """What every response does: wait, then `chunks` pieces of audio `interval_s` apart."""

    delay_s: float
    chunks: int
    chunk_bytes: int
    interval_s: float
    fail_every: int  # every n-th request answers 500 (0: never)


class ReferenceServer:
    """Serves one connection at a time per task; counts requests to inject failures."""

    def __init__(self, timings: Timings) -> None:
        self.timings = timings
        self.requests = 0
        self._audio = bytes(range(256)) * (timings.chunk_bytes // 256) + bytes(timings.chunk_bytes % 256)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve requests on one connection until the client closes it."""
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                method, path, headers = _parse_head(head)
                length = int(headers.get("content-length", "0"))
                if length:
                    await reader.readexactly(length)
                received = time.perf_counter()  # the whole request is in: a service starts work now
                await self._respond(writer, method, path, received)
                if headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _respond(self, writer: asyncio.StreamWriter, method: str, path: str, received: float) -> None:
        if path in ("/health", "/ready"):
            body = {"status": "ready", "engine": "reference", "model": "reference"}
            await _send(writer, 200, "application/json", json.dumps(body).encode())
            return
        if path not in ("/v1/audio/speech", "/v1/agent/turn"):
            await _send(writer, 404, "application/json", _error("not found", "not_found"))
            return
        if method != "POST":
            await _send(writer, 405, "application/json", _error("use POST", "method_not_allowed"))
            return
        self.requests += 1
        if self.timings.fail_every and self.requests % self.timings.fail_every == 0:
            await _send(writer, 500, "application/json", _error("injected failure", "injected"))
            return
        await _sleep_until(received + self.timings.delay_s)
        waited_ms = (time.perf_counter() - received) * 1000
        if path == "/v1/audio/speech":
            await self._stream(writer, "audio/pcm", [self._audio] * self.timings.chunks, waited_ms)
        else:
            await self._stream(writer, "text/event-stream", self._turn_events(waited_ms), waited_ms)

    async def _stream(
        self, writer: asyncio.StreamWriter, media_type: str, pieces: Sequence[bytes], waited_ms: float
    ) -> None:
        """Headers and the first piece in one write, then the rest `interval_s` apart, chunked.

        `x-ttfa-ms` says how long the server really waited, as the TTS service's header does.
        """
        head = (
            f"HTTP/1.1 200 OK\r\ncontent-type: {media_type}\r\ntransfer-encoding: chunked\r\n"
            f"x-ttfa-ms: {waited_ms:.3f}\r\n\r\n"
        ).encode()
        for n, piece in enumerate(pieces):
            if n and self.timings.interval_s:
                await asyncio.sleep(self.timings.interval_s)
            writer.write((head if n == 0 else b"") + b"%x\r\n%s\r\n" % (len(piece), piece))
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    def _turn_events(self, waited_ms: float) -> list[bytes]:
        """The agent's SSE: a text delta with the first audio, more audio, metrics and done."""
        audio = base64.b64encode(self._audio).decode()
        events = [_event("text", {"delta": "Reference reply."}) + _event("audio", {"seq": 0, "audio": audio})]
        events += [_event("audio", {"seq": seq, "audio": audio}) for seq in range(1, self.timings.chunks)]
        metrics = {
            "llm_ttft_ms": waited_ms,
            "tts_ttfb_ms": 0.0,
            "turn_ttfa_ms": waited_ms,
            "turn_e2e_ms": waited_ms,
        }
        events[-1] += _event("metrics", metrics) + b"event: done\ndata: {}\n\n"
        return events


def _event(name: str, data: Mapping[str, object]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


def _error(message: str, code: str) -> bytes:
    return json.dumps({"error": {"message": message, "type": "server_error", "code": code}}).encode()


def _parse_head(head: bytes) -> tuple[str, str, dict[str, str]]:
    request_line, *lines = head.decode("latin-1").split("\r\n")
    method, path, _ = request_line.split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return method, path.split("?", 1)[0], headers


async def _send(writer: asyncio.StreamWriter, status: int, media_type: str, body: bytes) -> None:
    head = f"HTTP/1.1 {status} {_REASONS[status]}\r\ncontent-type: {media_type}\r\n"
    writer.write(f"{head}content-length: {len(body)}\r\n\r\n".encode() + body)
    await writer.drain()


async def _sleep_until(deadline: float) -> None:
    """Sleep until perf_counter() reaches `deadline`, to within tens of microseconds."""
    remaining = deadline - time.perf_counter()
    if remaining > SPIN_S:
        await asyncio.sleep(remaining - SPIN_S)
    while time.perf_counter() < deadline:  # noqa: ASYNC110 (a deliberate spin: no event is this precise)
        await asyncio.sleep(0)


async def serve(host: str, port: int, timings: Timings) -> None:
    """Serve until cancelled."""
    server = await asyncio.start_server(ReferenceServer(timings).handle, host, port, backlog=1024)
    async with server:
        await server.serve_forever()


def main(argv: Sequence[str] | None = None) -> None:
    """Parse flags and serve until interrupted."""
    parser = argparse.ArgumentParser(description="A reference streaming server with known timings.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--delay-ms", type=float, default=0.0, help="wait before the first byte")
    parser.add_argument("--chunks", type=int, default=4, help="audio chunks per response")
    parser.add_argument("--chunk-bytes", type=int, default=4800, help="bytes per chunk (4800 = 100 ms)")
    parser.add_argument("--interval-ms", type=float, default=0.0, help="wait between chunks")
    parser.add_argument("--fail-every", type=int, default=0, help="answer every n-th request with 500")
    args = parser.parse_args(argv)
    if (
        args.chunks < 1
        or args.chunk_bytes < 2
        or args.delay_ms < 0
        or args.interval_ms < 0
        or args.fail_every < 0
    ):
        parser.error("chunks >= 1, chunk-bytes >= 2, and non-negative delays and fail-every are required")
    timings = Timings(
        args.delay_ms / 1000, args.chunks, args.chunk_bytes, args.interval_ms / 1000, args.fail_every
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port, timings))


if __name__ == "__main__":
    main()
