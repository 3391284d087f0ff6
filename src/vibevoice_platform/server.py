"""Running a service under uvicorn with a graceful, observable shutdown.

SIGTERM and SIGINT (Ctrl-C) are one and the same request to stop. On the first the service starts
draining: `/ready` answers 503 (so load balancers stop sending traffic) for `drain_s` seconds while
requests are still served, each response with `Connection: close`, so a client that keeps its
connections open takes its next request elsewhere instead of sending it on a connection the server is
about to close (a kept-alive turn sent as the server closed its idle connections was lost on every
rolling upgrade of a cluster); then uvicorn stops accepting connections and gives in-flight streams
`grace_s` seconds to finish before cancelling them. A second signal stops at once: every connection is
cut, as if each client had hung up (each stream's cleanup runs: its synthesis stopped, its slot freed),
and the process exits. Either way the exit status is 0 and nothing is printed but log lines: uvicorn's
habit of re-raising the signal once it has stopped (a KeyboardInterrupt traceback for Ctrl-C) is
dropped.

The listening socket is bound before anything else starts (the engine's load included), so an address
in use stops the start with one line naming the flags, and exit status 1, as any other cause that
leaves the service unable to serve.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
from collections.abc import Callable
from types import FrameType
from typing import Protocol, TypeVar

import uvicorn
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from vibevoice_platform.config import print_error
from vibevoice_platform.logs import configure_logging
from vibevoice_platform.transport import (
    MAX_HEADER_BYTES,
    Connections,
    Limits,
    QuietInvalidUtf8,
    TransportGuard,
)

SettingsT = TypeVar("SettingsT", bound="ServiceSettings")
logger = logging.getLogger(__name__)


class DrainingServer(uvicorn.Server):
    """uvicorn.Server that announces draining before it stops, and stops at once on a second signal."""

    def __init__(
        self,
        config: uvicorn.Config,
        connections: Connections,
        on_drain: Callable[[], None],
        drain_s: float,
    ) -> None:
        super().__init__(config)
        self._connections = connections
        self._on_drain = on_drain
        self._drain_s = drain_s
        self._timer: threading.Timer | None = None
        self._signalled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self.exit_status = 0

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._signalled:
            if self._timer is not None:
                self._timer.cancel()
            self.should_exit = True
            if self._loop is not None:
                self._loop.call_soon_threadsafe(self._cut_connections)
            return
        self._signalled = True
        self._on_drain()
        if self._drain_s <= 0:
            self.should_exit = True
            return
        self._timer = threading.Timer(self._drain_s, self._stop)
        self._timer.daemon = True
        self._timer.start()

    def _stop(self) -> None:
        self.should_exit = True

    def stop_serving(self, exit_status: int) -> None:
        """Stop as after a signal, then exit with `exit_status` (the app cannot work: a failed load)."""
        self.exit_status = exit_status
        self.should_exit = True

    def _cut_connections(self) -> None:
        logger.warning("second signal: stopping now, %d connection(s) cut", self._connections.abort_all())


class CloseWhileDraining:
    """ASGI middleware: once `draining` is set, every HTTP response says `Connection: close` (uvicorn
    then closes the connection after it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.draining = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_closing(message: Message) -> None:
            if message["type"] == "http.response.start" and self.draining:
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"connection"]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        await self.app(scope, receive, send_closing)


class ServiceSettings(Limits, Protocol):
    """What both services' settings have in common (read-only, so Literal-typed fields fit)."""

    @property
    def host(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def drain_s(self) -> float: ...
    @property
    def grace_s(self) -> int: ...
    @property
    def log_level(self) -> str: ...


class Drainable(Protocol):
    """A service that can announce it is going away (its /ready turns 503)."""

    def start_draining(self) -> None: ...


def listen(host: str, port: int, prog: str, env_prefix: str) -> socket.socket:
    """The service's listening socket, or exit 1 with one line naming the flags (the port in use)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family)
    except OSError as exc:
        names = f"--host/--port, env {env_prefix}HOST/{env_prefix}PORT"
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        print_error(prog, f"cannot listen on {host}:{port} ({names}): {reason}")
        raise SystemExit(1) from None


def run_service(settings: SettingsT, create_app: Callable[[SettingsT], FastAPI], prog: str) -> None:
    """Bind, configure logging, build the app and serve it until a signal (the services' `main`)."""
    env_prefix = str(getattr(settings, "model_config", {}).get("env_prefix", ""))
    sock = listen(settings.host, settings.port, prog, env_prefix)
    configure_logging(settings.log_level)
    logging.getLogger("uvicorn.error").addFilter(QuietInvalidUtf8())
    app = create_app(settings)
    service: Drainable = app.state.service
    connections = Connections(settings.header_timeout_s)
    closing = CloseWhileDraining(TransportGuard(app, settings, connections))

    def drain() -> None:
        closing.draining = True
        service.start_draining()

    config = uvicorn.Config(
        closing,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=settings.grace_s,
        lifespan="on",
        http=connections.protocol(H11Protocol),
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        ws="websockets-sansio",
        ws_max_size=settings.ws_max_message_bytes,
        proxy_headers=False,  # the scope's `client` is the connection's peer (see Connections)
    )
    server = DrainingServer(config, connections, drain, settings.drain_s)
    app.state.stop_serving = server.stop_serving
    host, port = sock.getsockname()[:2]
    logger.info("listening on %s:%d", host, port, extra={"host": host, "port": port})
    server.run(sockets=[sock])
    if server.exit_status:
        raise SystemExit(server.exit_status)
