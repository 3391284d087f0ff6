"""How one request is made and timed against each service, one driver per target and protocol.

A driver sends one utterance, feeds the audio it receives into a `StreamClock`, puts any other
timings into `extra`, and raises `RequestFailed` for anything that is not a complete, valid response.
Errors of httpx, websockets and the OS are mapped to the recorded error types at one boundary,
`recorded_errors`, so every way a request can fail ends up named in the results, never as a crash.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import websockets
from httpx_sse import EventSource, SSEError
from websockets.asyncio.client import connect as ws_connect

from vibevoice_platform.bench.corpus import Utterance
from vibevoice_platform.bench.records import ErrorType, RequestFailed, StreamClock
from vibevoice_platform.clients import bearer


class Target(enum.StrEnum):
    """The service under test."""

    TTS = "tts"
    AGENT = "agent"


class Protocol(enum.StrEnum):
    """How the service is driven."""

    HTTP = "http"  # TTS: POST /v1/audio/speech streamed as PCM; agent: POST /v1/agent/turn as SSE
    WS = "ws"  # TTS: WS /v1/audio/stream


@dataclass(frozen=True)
class Session:
    """What every request of a run shares: the service, the client, the request options.

    Requests are built by `http` (base headers, timeouts) but sent straight through a transport,
    a connection pool: cookies, redirects, auth and event hooks are of no use to a benchmark of these
    APIs, and each would cost Python time inside the measured interval. Each worker (`lane`) has a
    pool of its own holding one keep-alive connection, as a real client would: one shared pool of
    many connections costs time in proportion to their number on every request (httpcore scans
    them all), which at concurrency 64 made the generator, not the service, the bottleneck.
    """

    url: str  # base URL, no trailing slash
    http: httpx.AsyncClient
    transports: tuple[httpx.AsyncBaseTransport, ...]
    voice: str | None
    model: str
    timeout_s: float
    request_id_prefix: str
    auth: Mapping[str, str] = field(default_factory=dict)  # the Authorization header, if any
    lane: int = 0

    @property
    def transport(self) -> httpx.AsyncBaseTransport:
        """This worker's connection pool."""
        return self.transports[self.lane % len(self.transports)]

    def for_worker(self, lane: int) -> Session:
        """The session as worker `lane` uses it."""
        return replace(self, lane=lane)


@asynccontextmanager
async def open_session(
    url: str,
    *,
    concurrency: int,
    timeout_s: float,
    voice: str | None,
    model: str,
    api_key: str | None = None,
) -> AsyncIterator[Session]:
    """A session with one single-connection pool per worker (sending `api_key`, if any)."""
    one = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    tls = httpx.create_ssl_context(trust_env=False)  # loading CA certificates takes tens of ms: once
    async with AsyncExitStack() as stack:
        # trust_env=False: the benchmark measures the service, never a proxy named in the environment
        http = await stack.enter_async_context(
            httpx.AsyncClient(timeout=timeout_s, verify=tls, trust_env=False, headers=bearer(api_key))
        )
        transports = [
            await stack.enter_async_context(httpx.AsyncHTTPTransport(limits=one, verify=tls, trust_env=False))
            for _ in range(concurrency)
        ]
        prefix = f"bench-{secrets.token_hex(4)}"
        yield Session(url, http, tuple(transports), voice, model, timeout_s, prefix, bearer(api_key))


Driver = Callable[[Session, Utterance, int, StreamClock, dict[str, float]], Awaitable[None]]


class UnsupportedScenario(ValueError):
    """A target and protocol pair that has no driver."""


def driver_for(target: Target, protocol: Protocol) -> Driver:
    """The driver of a target over a protocol."""
    match target, protocol:
        case Target.TTS, Protocol.HTTP:
            return tts_http
        case Target.TTS, Protocol.WS:
            return tts_ws
        case Target.AGENT, Protocol.HTTP:
            return agent_sse
        case Target.AGENT, Protocol.WS:
            raise UnsupportedScenario("the agent is benchmarked over HTTP (SSE turns); use --protocol http")
    raise AssertionError(f"unhandled {target}/{protocol}")  # pragma: no cover


@contextmanager
def recorded_errors() -> Iterator[None]:
    """Translate client-library and OS errors into `RequestFailed` with a recorded type."""
    try:
        yield
    except RequestFailed:
        raise
    except httpx.TimeoutException as exc:
        raise RequestFailed(ErrorType.TIMEOUT, f"{type(exc).__name__}: {exc or 'timed out'}") from exc
    except httpx.ConnectError as exc:
        raise RequestFailed(ErrorType.CONNECT, str(exc) or type(exc).__name__) from exc
    except (httpx.RemoteProtocolError, httpx.DecodingError) as exc:
        raise RequestFailed(ErrorType.PROTOCOL, str(exc) or type(exc).__name__) from exc
    except httpx.HTTPError as exc:
        raise RequestFailed(ErrorType.TRANSPORT, f"{type(exc).__name__}: {exc}") from exc
    except TimeoutError as exc:  # websockets' open_timeout
        raise RequestFailed(ErrorType.TIMEOUT, f"timed out: {exc or 'no answer'}") from exc
    except websockets.InvalidStatus as exc:
        status = exc.response.status_code
        raise RequestFailed(ErrorType.HTTP, f"WebSocket handshake answered {status}", str(status)) from exc
    except websockets.ConnectionClosed as exc:
        raise RequestFailed(ErrorType.PROTOCOL, f"WebSocket closed early: {exc}") from exc
    except websockets.WebSocketException as exc:
        raise RequestFailed(ErrorType.PROTOCOL, f"{type(exc).__name__}: {exc}") from exc
    except ConnectionRefusedError as exc:
        raise RequestFailed(ErrorType.CONNECT, str(exc)) from exc
    except OSError as exc:
        raise RequestFailed(ErrorType.TRANSPORT, f"{type(exc).__name__}: {exc}") from exc


async def _send(
    session: Session, request: httpx.Request, clock: StreamClock, extra: dict[str, float]
) -> httpx.Response:
    """Send through the pool with the clock started as the request leaves; the response streams."""
    _start_on_send(request, clock, extra)
    return await session.transport.handle_async_request(request)


def _start_on_send(request: httpx.Request, clock: StreamClock, extra: dict[str, float]) -> None:
    """Start the clock as the request's headers are written, through httpcore's trace hook.

    That leaves out the client's own work before (pool, auth, serialising the headers: some hundreds
    of microseconds of Python), which is not the service's latency. It is not later, after the body:
    a client descheduled between writing the body and starting its clock would report less than the
    service's real time. A new connection's set-up is recorded apart, as `connect_ms`.
    """
    clock.restart()
    connect_started = clock.started

    async def trace(event: str, info: dict[str, Any]) -> None:
        nonlocal connect_started
        if event == "connection.connect_tcp.started":
            connect_started = time.perf_counter()
        elif event == "connection.connect_tcp.complete":
            extra["connect_ms"] = (time.perf_counter() - connect_started) * 1000
        elif event == "http11.send_request_headers.complete":
            clock.restart()

    request.extensions["trace"] = trace


def _headers(session: Session, index: int) -> dict[str, str]:
    return {"X-Request-ID": f"{session.request_id_prefix}-{index}", **session.auth}


async def _raise_for_status(response: httpx.Response) -> None:
    """A non-2xx answer as an `http_error`, with the message of an OpenAI error body when there is one."""
    if response.is_success:
        return
    body = (await response.aread()).decode("utf-8", errors="replace")
    message = body[:300] or response.reason_phrase
    try:
        error = json.loads(body)["error"]
        message = f"{error.get('code') or error.get('type')}: {error['message']}"
    except (ValueError, KeyError, TypeError, AttributeError):
        pass
    raise RequestFailed(ErrorType.HTTP, message, str(response.status_code))


async def tts_http(
    session: Session, utterance: Utterance, index: int, clock: StreamClock, extra: dict[str, float]
) -> None:
    """POST /v1/audio/speech as raw PCM, timing each chunk of the streamed body."""
    body: dict[str, Any] = {"model": session.model, "input": utterance.text, "response_format": "pcm"}
    if session.voice:
        body["voice"] = session.voice
    request = session.http.build_request(
        "POST", f"{session.url}/v1/audio/speech", json=body, headers=_headers(session, index)
    )
    response = await _send(session, request, clock, extra)
    try:
        await _raise_for_status(response)
        server_ttfa = response.headers.get("x-ttfa-ms")
        if server_ttfa is not None:
            extra["server_ttfa_ms"] = float(server_ttfa)
        async for chunk in response.aiter_raw():
            clock.audio(len(chunk))
        clock.end()
    finally:
        await response.aclose()


def _ws_url(url: str) -> str:
    if url.startswith("https://"):
        return "wss://" + url.removeprefix("https://")
    return "ws://" + url.removeprefix("http://")


async def tts_ws(
    session: Session, utterance: Utterance, index: int, clock: StreamClock, extra: dict[str, float]
) -> None:
    """A WS /v1/audio/stream session per utterance: start, text, end; audio timed from the text."""
    clock.restart()
    async with ws_connect(
        f"{_ws_url(session.url)}/v1/audio/stream",
        additional_headers=_headers(session, index),
        open_timeout=session.timeout_s,
        proxy=None,
        compression=None,
        max_size=None,
    ) as ws:
        start: dict[str, Any] = {"type": "start"}
        if session.voice:
            start["voice"] = session.voice
        await ws.send(json.dumps(start))
        started = _ws_control(await ws.recv())
        if started.get("type") != "started":
            raise RequestFailed(ErrorType.PROTOCOL, f"expected 'started', got {started.get('type')!r}")
        extra["setup_ms"] = clock.since_start_ms(time.perf_counter())
        clock.restart()
        await ws.send(json.dumps({"type": "text", "text": utterance.text}))
        await ws.send(json.dumps({"type": "end"}))
        async for message in ws:
            if isinstance(message, bytes):
                clock.audio(len(message))
                continue
            control = _ws_control(message)
            if control.get("type") == "done":
                clock.end()
                return
        raise RequestFailed(ErrorType.PROTOCOL, "the WebSocket closed before 'done'")


def _ws_control(message: str | bytes) -> dict[str, Any]:
    """A JSON control message; an `error` message ends the request with its code."""
    if isinstance(message, bytes):
        raise RequestFailed(ErrorType.PROTOCOL, "audio before 'started'")
    try:
        control = json.loads(message)
    except ValueError as exc:
        raise RequestFailed(ErrorType.PROTOCOL, f"not JSON: {message[:100]!r}") from exc
    if not isinstance(control, dict):
        raise RequestFailed(ErrorType.PROTOCOL, f"not a JSON object: {message[:100]!r}")
    if control.get("type") == "error":
        raise RequestFailed(ErrorType.STREAM, str(control.get("message", "")), str(control.get("code")))
    return control


AGENT_SERVER_METRICS = ("llm_ttft_ms", "tts_ttfb_ms", "turn_ttfa_ms", "turn_e2e_ms")


async def agent_sse(
    session: Session, utterance: Utterance, index: int, clock: StreamClock, extra: dict[str, float]
) -> None:
    """POST /v1/agent/turn, reading its SSE: text deltas, base64 audio, server metrics, done."""
    body: dict[str, Any] = {"text": utterance.text}
    if session.voice:
        body["voice"] = session.voice
    headers = {**_headers(session, index), "Accept": "text/event-stream"}
    request = session.http.build_request("POST", f"{session.url}/v1/agent/turn", json=body, headers=headers)
    response = await _send(session, request, clock, extra)
    try:
        await _raise_for_status(response)
        done = False
        try:
            async for event in EventSource(response).aiter_sse():  # to the end: the connection is reused
                if not done and _agent_event(event.event, event.data, clock, extra):
                    clock.end()
                    done = True
        except SSEError as exc:
            raise RequestFailed(ErrorType.PROTOCOL, str(exc)) from exc
        if not done:
            raise RequestFailed(ErrorType.PROTOCOL, "the event stream ended before 'done'")
    finally:
        await response.aclose()


def _agent_event(name: str, data: str, clock: StreamClock, extra: dict[str, float]) -> bool:
    """Account for one agent event; True at `done`."""
    if name == "done":
        return True
    try:
        payload = json.loads(data)
    except ValueError as exc:
        raise RequestFailed(ErrorType.PROTOCOL, f"event {name!r} carries invalid JSON") from exc
    if not isinstance(payload, dict):
        raise RequestFailed(
            ErrorType.PROTOCOL, f"event {name!r} carries {type(payload).__name__}, not an object"
        )
    if name == "text":
        extra.setdefault("ttft_ms", clock.since_start_ms(time.perf_counter()))
    elif name == "audio":
        try:
            clock.audio(len(base64.b64decode(payload["audio"], validate=True)))
        except (KeyError, TypeError, binascii.Error) as exc:
            raise RequestFailed(ErrorType.PROTOCOL, "an audio event without valid base64 audio") from exc
    elif name == "metrics":
        for key in AGENT_SERVER_METRICS:
            value = payload.get(key)
            if isinstance(value, int | float):
                extra[f"server_{key}"] = float(value)
    elif name == "error":
        raise RequestFailed(ErrorType.STREAM, str(payload.get("message", "")), str(payload.get("code")))
    return False
