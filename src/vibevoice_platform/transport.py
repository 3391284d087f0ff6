"""Limits on what a client may do to a connection, enforced for both services before the app sees it.

A hostile or broken client must not hold resources without bound, so each way of doing so has a limit,
a flag and an answer that says which limit was hit:

- `--header-timeout-s`: a connection has this long to send a request's line and headers (slowloris,
  or an idle connection that never sends one); then it gets 408 and is closed.
- Request line and headers over 16 KiB (`MAX_HEADER_BYTES`) get 400, however they arrive: in pieces,
  uvicorn's h11 parser refuses them once 16 KiB are buffered without the end of the headers (its
  `h11_max_incomplete_event_size`); whole in one read (up to 64 KiB arrive so), the guard counts them.
- `--max-body-bytes`: a larger request body gets 413 once it passes the limit (the rest is read and
  dropped, so a client still sending reads the 413 rather than a reset).
- `--ws-max-sessions`: WebSocket sessions at once; one more is accepted and closed at once with 1013
  (try again later) and the reason.
- `--ws-max-message-bytes`: a larger WebSocket message closes the session with 1009 (the websockets
  library's close, with its reason).
- `--ws-max-messages-per-s`: a session sending messages faster than this (a burst of one second's worth
  allowed) is closed with 1008 and the reason.
- `--send-timeout-s`: a client that takes none of its stream's data for this long (it stopped reading)
  is cut off: its stream ends as if it had hung up, so its synthesis stops and its slot is freed, and
  its connection is closed.

A WebSocket text message that is not UTF-8 is closed by uvicorn with 1007. When uvicorn's protocol has
closed a session itself (1007, 1009) while the app is still sending, the app's next send fails as a
hang-up does, rather than as an ASGI error with a traceback.

All of it goes through uvicorn's public surface: its settings, the `http=` protocol class it accepts
(wrapped here, not subclassed: `Connections.protocol`), the ASGI scope and messages. The tests that
fail if a uvicorn release changes any of it are in tests/integration/test_hostile_clients.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol, cast

import anyio
from pydantic import Field
from pydantic_settings import BaseSettings
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket

from vibevoice_platform.api import error_response
from vibevoice_platform.auth import RateLimiter

logger = logging.getLogger(__name__)
CLOSE_POLICY = 1008
CLOSE_TRY_LATER = 1013
MAX_HEADER_BYTES = 16_384
Address = tuple[str, int]


class Limits(Protocol):
    """What the guard reads (read-only, so any settings object with these fields fits)."""

    @property
    def header_timeout_s(self) -> float: ...
    @property
    def max_body_bytes(self) -> int: ...
    @property
    def send_timeout_s(self) -> float: ...
    @property
    def ws_max_sessions(self) -> int: ...
    @property
    def ws_max_message_bytes(self) -> int: ...
    @property
    def ws_max_messages_per_s(self) -> int: ...


class TransportLimits(BaseSettings):
    """The limits as settings fields, which both services' settings inherit (with their env prefix)."""

    header_timeout_s: float = Field(
        default=10.0, gt=0, description="seconds a connection has to send a request's headers, then 408"
    )
    max_body_bytes: int = Field(
        default=1_048_576, ge=1024, description="largest request body; a larger one is refused with 413"
    )
    send_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="a client that takes no data of its stream for this long is cut off (slot freed)",
    )
    ws_max_sessions: int = Field(
        default=256, ge=1, description="WebSocket sessions at once; more are closed with 1013"
    )
    ws_max_message_bytes: int = Field(
        default=65_536, ge=1024, description="largest WebSocket message; a larger one closes with 1009"
    )
    ws_max_messages_per_s: int = Field(
        default=100, ge=1, description="WebSocket messages a second per session; faster closes with 1008"
    )


class ClientStalledError(OSError):
    """The client took no data for `send_timeout_s`: treated as a hang-up (an OSError, as one is)."""


class ServerClosedError(OSError):
    """uvicorn's protocol closed the WebSocket (a frame it refused) while the app was still sending."""


def _address(peer: object) -> Address | None:
    """A TCP peer as uvicorn writes it in the ASGI scope's `client`: (host, port)."""
    if isinstance(peer, tuple | list) and len(peer) >= 2:
        return str(peer[0]), int(peer[1])
    return None


class _Connection:
    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.timer: asyncio.TimerHandle | None = None
        self.serving = False


def _timeout_response(timeout_s: float) -> bytes:
    body = json.dumps(
        {
            "error": {
                "message": f"the request's headers did not arrive within {timeout_s:g} s",
                "type": "invalid_request_error",
                "code": "request_timeout",
                "param": None,
            }
        }
    ).encode()
    return (
        b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
        + f"content-length: {len(body)}\r\n\r\n".encode()
        + body
    )


class Connections:
    """The server's open connections by client address: the bytes side of the transport limits.

    `protocol` wraps uvicorn's HTTP protocol (by composition, through asyncio's Protocol interface
    only) to see each connection open, receive data and close; the guard marks, from the ASGI scope's
    `client`, when a request is being served. A connection that is not being served and does not
    complete a request's headers within the timeout (armed when it opens, and when the bytes of a next
    request start to arrive) gets 408 and is closed: uvicorn times out idle keep-alive connections
    only after a response, and never one that dribbles its headers. The guard also closes the
    connection of a client cut off for not reading, and a second signal every connection.
    """

    def __init__(self, header_timeout_s: float) -> None:
        self._timeout_s = header_timeout_s
        self._response = _timeout_response(header_timeout_s)
        self._open: dict[Address, _Connection] = {}

    def protocol(self, inner: Callable[..., asyncio.Protocol]) -> type[asyncio.Protocol]:
        """`inner` (uvicorn's h11 protocol) behind the header deadline, for uvicorn's `http=`."""
        connections = self

        class HeaderDeadlineProtocol(asyncio.Protocol):
            def __init__(self, **kwargs: Any) -> None:
                self._inner = inner(**kwargs)
                self._address: Address | None = None

            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                self._address = connections.opened(transport)
                self._inner.connection_made(transport)

            def data_received(self, data: bytes) -> None:
                connections.received(self._address)
                self._inner.data_received(data)

            def eof_received(self) -> bool | None:
                return self._inner.eof_received()

            def connection_lost(self, exc: Exception | None) -> None:
                connections.closed(self._address)
                self._inner.connection_lost(exc)

            def pause_writing(self) -> None:
                self._inner.pause_writing()

            def resume_writing(self) -> None:
                self._inner.resume_writing()

        return HeaderDeadlineProtocol

    def opened(self, transport: asyncio.BaseTransport) -> Address | None:
        """A new connection: its headers are due within the timeout."""
        address = _address(transport.get_extra_info("peername"))
        if address is not None:
            connection = self._open[address] = _Connection(cast(asyncio.Transport, transport))
            self._arm(address, connection)
        return address

    def received(self, address: Address | None) -> None:
        """Bytes arrived: between requests, they start the next one's headers."""
        if address is None or (connection := self._open.get(address)) is None:
            return
        if not connection.serving and connection.timer is None:
            self._arm(address, connection)

    def closed(self, address: Address | None) -> None:
        """The connection is gone."""
        connection = self._open.pop(address, None) if address else None
        if connection is not None and connection.timer is not None:
            connection.timer.cancel()

    @contextmanager
    def serving(self, client: object, *, last: bool) -> Iterator[_Connection | None]:
        """While the ASGI app serves a request of `client`'s connection (its headers are in); `last`
        (a WebSocket session) forgets the connection afterwards, its protocol no longer this one."""
        address = _address(client)
        connection = None if address is None else self._open.get(address)
        if address is None or connection is None:  # not over TCP, or not through `protocol` (in-process)
            yield None
            return
        connection.serving = True
        if connection.timer is not None:
            connection.timer.cancel()
            connection.timer = None
        try:
            yield connection
        finally:
            connection.serving = False
            if last and self._open.get(address) is connection:
                del self._open[address]

    def abort_all(self) -> int:
        """Cut every connection (as if each client had hung up); how many there were."""
        connections = list(self._open.values())
        for connection in connections:
            connection.transport.abort()
        return len(connections)

    def _arm(self, address: Address, connection: _Connection) -> None:
        loop = asyncio.get_running_loop()
        connection.timer = loop.call_later(self._timeout_s, self._expire, address, connection)

    def _expire(self, address: Address, connection: _Connection) -> None:
        connection.timer = None
        if connection.serving or self._open.get(address) is not connection:
            return
        transport = connection.transport
        if not transport.is_closing():
            transport.write(self._response)
            transport.close()
        del self._open[address]


def header_bytes(scope: Scope) -> int:
    """The size of a request's line and headers as the client sent them (give or take its spacing)."""
    target = len(scope.get("raw_path", b"")) + len(scope.get("query_string", b"")) + 1
    line = len(scope.get("method", "GET")) + target + len(" HTTP/1.1\r\n")
    return line + sum(len(name) + len(value) + 4 for name, value in scope["headers"]) + 2


class TransportGuard:
    """ASGI middleware enforcing the header-size, body, send-timeout and WebSocket limits (see the
    module docstring); with `connections`, it also closes the connection of a client cut off."""

    def __init__(self, app: ASGIApp, limits: Limits, connections: Connections | None = None) -> None:
        self.app = app
        self._limits = limits
        self._connections = Connections(limits.header_timeout_s) if connections is None else connections
        self._sessions = 0

    @property
    def sessions(self) -> int:
        """WebSocket sessions open now."""
        return self._sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        with self._connections.serving(scope.get("client"), last=kind == "websocket") as connection:
            if header_bytes(scope) > MAX_HEADER_BYTES:
                await self._headers_too_large(scope, receive, send)
            elif kind == "http":
                await self._http(scope, receive, send, connection)
            else:
                await self._websocket(scope, receive, send, connection)

    async def _headers_too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            400,
            f"the request line and headers are larger than {MAX_HEADER_BYTES} bytes",
            error_type="invalid_request_error",
            code="request_headers_too_large",
        )
        if scope["type"] == "websocket":
            await WebSocket(scope, receive, send).send_denial_response(response)
        else:
            await response(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send, connection: _Connection | None) -> None:
        """Read the body up to the limit (these APIs take small JSON bodies), then run the app."""
        limit = self._limits.max_body_bytes
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await self._too_large(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client left before its body was in
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._too_large(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        pending: list[Message] = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def replay() -> Message:
            return pending.pop() if pending else await receive()

        stalled: list[bool] = []
        try:
            await self.app(scope, replay, self._in_time(send, stalled))
        except* ClientStalledError:
            pass  # logged when it happened; the app has stopped the stream as for a hang-up
        if stalled and connection is not None:
            await self._cut_off(connection, receive)

    async def _cut_off(self, connection: _Connection, receive: Receive) -> None:
        """Close a stalled client's connection, and wait until uvicorn has seen it go (so the response
        it could not finish is a hang-up to uvicorn, not an app that returned without completing it)."""
        connection.transport.abort()
        with anyio.move_on_after(self._limits.send_timeout_s):
            while (await receive())["type"] != "http.disconnect":
                pass

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        """413 at once. Not `Connection: close`: uvicorn then reads the rest of the body and drops it,
        so the client, still sending, reads the 413 instead of a reset of its unread data."""
        limit = self._limits.max_body_bytes
        response = error_response(
            413,
            f"the request body is larger than {limit} bytes (--max-body-bytes)",
            error_type="invalid_request_error",
            code="request_too_large",
        )
        await response(scope, receive, send)

    def _in_time(self, send: Send, stalled: list[bool], closed: list[bool] | None = None) -> Send:
        """`send` that gives up after `send_timeout_s` (and, once the guard closed a socket, refuses)."""
        timeout = self._limits.send_timeout_s

        async def send_in_time(message: Message) -> None:
            if closed:
                raise ClientStalledError("the session was closed by a transport limit")
            with anyio.move_on_after(timeout) as waited:
                await send(message)
            if waited.cancelled_caught:
                stalled.append(True)
                logger.warning("client took no data for %g s: its stream is cut off", timeout)
                raise ClientStalledError(f"the client took no data for {timeout:g} s")

        return send_in_time

    async def _websocket(
        self, scope: Scope, receive: Receive, send: Send, connection: _Connection | None
    ) -> None:
        limits = self._limits
        if self._sessions >= limits.ws_max_sessions:
            await receive()  # websocket.connect
            reason = f"{limits.ws_max_sessions} WebSocket sessions are open (--ws-max-sessions)"
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.close", "code": CLOSE_TRY_LATER, "reason": reason})
            return
        self._sessions += 1
        closed: list[bool] = []  # set once the guard has closed the session: the app's sends then fail
        stalled: list[bool] = []
        try:
            guarded = self._in_time(_server_closes_as_hang_up(send), stalled, closed)
            await self.app(scope, self._within_rate(receive, send, closed), guarded)
        finally:
            self._sessions -= 1
            if stalled and connection is not None:
                connection.transport.abort()

    def _within_rate(self, receive: Receive, send: Send, closed: list[bool]) -> Receive:
        """`receive` that closes the session (1008) when messages come faster than the limit."""
        rate = self._limits.ws_max_messages_per_s
        bucket = RateLimiter(per_second=rate, burst=rate)

        async def receive_within_rate() -> Message:
            message = await receive()
            if message["type"] != "websocket.receive" or bucket.take("session") <= 0:
                return message
            reason = f"more than {rate} messages a second (--ws-max-messages-per-s)"
            logger.warning("WebSocket session closed: %s", reason)
            closed.append(True)
            with anyio.move_on_after(self._limits.send_timeout_s):
                await send({"type": "websocket.close", "code": CLOSE_POLICY, "reason": reason})
            return {"type": "websocket.disconnect", "code": CLOSE_POLICY, "reason": reason}

        return receive_within_rate


def _server_closes_as_hang_up(send: Send) -> Send:
    """A WebSocket's `send` that fails with an OSError (a hang-up, to Starlette and the app) once
    uvicorn's protocol has closed the session itself.

    uvicorn closes a session on a frame it refuses (a text message that is not UTF-8: 1007; one over
    `ws_max_size`: 1009) and queues the disconnect for the app; an app still sending until it reads
    that gets a RuntimeError ("after sending 'websocket.close'") that it never sent, which uvicorn then
    logs as an error with a traceback. Any client can cause it, so it is a hang-up here.
    """
    app_closed = False

    async def send_or_hang_up(message: Message) -> None:
        nonlocal app_closed
        try:
            await send(message)
        except RuntimeError as exc:
            if app_closed or message["type"] not in ("websocket.send", "websocket.close"):
                raise
            raise ServerClosedError("the server's protocol closed the WebSocket") from exc
        if message["type"] == "websocket.close":
            app_closed = True

    return send_or_hang_up


class QuietInvalidUtf8(logging.Filter):
    """uvicorn logs a text frame that is not UTF-8 as an error with a traceback (its 1007 close): a
    client's mistake, so it becomes one warning line without the traceback."""

    MESSAGE = "Invalid UTF-8 sequence received from client."

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == self.MESSAGE:
            record.msg = "a WebSocket text message is not UTF-8: closed with 1007"
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info = record.exc_text = None
        return True
