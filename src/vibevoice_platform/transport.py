"""Limits on what a client may do to a connection, enforced for both services before the app sees it.

A hostile or broken client must not hold resources without bound, so each way of doing so has a limit,
a flag and an answer that says which limit was hit:

- `--header-timeout-s`: a connection has this long to send a request's line and headers (slowloris,
  or an idle connection that never sends one); then it gets 408 and is closed.
- `--max-body-bytes`: a larger request body gets 413 once it passes the limit (the rest is read and
  dropped, so a client still sending reads the 413 rather than a reset).
- `--ws-max-sessions`: WebSocket sessions at once; one more is accepted and closed at once with 1013
  (try again later) and the reason.
- `--ws-max-message-bytes`: a larger WebSocket message closes the session with 1009 (the websockets
  library's close, with its reason).
- `--ws-max-messages-per-s`: a session sending messages faster than this (a burst of one second's worth
  allowed) is closed with 1008 and the reason.
- `--send-timeout-s`: a client that takes none of its stream's data for this long (it stopped reading)
  is cut off: its stream ends as if it had hung up, so its synthesis stops and its slot is freed.

Invalid UTF-8 in a WebSocket text message is closed with 1007 and a reason naming the bad byte, and a
request's headers over uvicorn's h11 limit (16 KiB) get a 400.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Protocol

import anyio
import h11
from pydantic import Field
from pydantic_settings import BaseSettings
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from vibevoice_platform.api import error_response
from vibevoice_platform.auth import RateLimiter

logger = logging.getLogger(__name__)
CLOSE_POLICY = 1008
CLOSE_TRY_LATER = 1013


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


def header_timeout_protocol(timeout_s: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol, closing with 408 a connection whose request headers take too long.

    uvicorn times out idle keep-alive connections only after a response; a new connection, or one that
    dribbles its headers a byte at a time, would otherwise be held open for ever.
    """
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
    response = (
        b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
        + f"content-length: {len(body)}\r\n\r\n".encode()
        + body
    )

    class HeaderTimeoutProtocol(H11Protocol):
        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            if self.conn.their_state is h11.IDLE:  # bytes of a request whose headers are not all in
                self._arm()
            super().data_received(data)
            if self.conn.their_state is not h11.IDLE:
                self._disarm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            if self._header_timer is None:
                self._header_timer = self.loop.call_later(timeout_s, self._too_slow)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _too_slow(self) -> None:
            self._header_timer = None
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self.transport.write(response)
                self.transport.close()

    return HeaderTimeoutProtocol


class Utf8WebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets protocol, closing a text message that is not UTF-8 with 1007 and a reason.

    (uvicorn itself closes with 1007 and no reason, and logs a traceback.)
    """

    def send_receive_event_to_app(self) -> None:
        if self.curr_msg_data_type == "text" and not self.close_sent:
            try:
                b"".join(self.frames).decode()
            except UnicodeDecodeError as exc:
                self.frames = []
                self.conn.send_close(1007, f"a text message is not UTF-8 ({exc.reason} at byte {exc.start})")
                self.handle_parser_exception()
                return
        super().send_receive_event_to_app()


class TransportGuard:
    """ASGI middleware enforcing the body, send-timeout and WebSocket limits (see the module docstring)."""

    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app = app
        self._limits = limits
        self._sessions = 0

    @property
    def sessions(self) -> int:
        """WebSocket sessions open now."""
        return self._sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
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

        try:
            await self.app(scope, replay, self._in_time(send))
        except* ClientStalledError:
            pass  # logged when it happened; the app has stopped the stream as for a hang-up

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

    def _in_time(self, send: Send, closed: list[bool] | None = None) -> Send:
        """`send` that gives up after `send_timeout_s` (and, once the guard closed a socket, refuses)."""
        timeout = self._limits.send_timeout_s

        async def send_in_time(message: Message) -> None:
            if closed:
                raise ClientStalledError("the session was closed by a transport limit")
            with anyio.move_on_after(timeout) as waited:
                await send(message)
            if waited.cancelled_caught:
                logger.warning("client took no data for %g s: its stream is cut off", timeout)
                raise ClientStalledError(f"the client took no data for {timeout:g} s")

        return send_in_time

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        limits = self._limits
        if self._sessions >= limits.ws_max_sessions:
            await receive()  # websocket.connect
            reason = f"{limits.ws_max_sessions} WebSocket sessions are open (--ws-max-sessions)"
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.close", "code": CLOSE_TRY_LATER, "reason": reason})
            return
        self._sessions += 1
        closed: list[bool] = []  # set once the guard has closed the session: the app's sends then fail
        try:
            await self.app(scope, self._within_rate(receive, send, closed), self._in_time(send, closed))
        finally:
            self._sessions -= 1

    def _within_rate(self, receive: Receive, send: Send, closed: list[bool]) -> Receive:
        """`receive` that closes the session (1008) when messages come faster than the limit."""
        rate = self._limits.ws_max_messages_per_s
        bucket = RateLimiter(per_minute=rate * 60, burst=rate)

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
