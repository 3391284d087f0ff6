"""Running a service under uvicorn with a graceful, observable shutdown.

On the first SIGTERM or SIGINT the service starts draining: `/ready` answers 503 (so load balancers
stop sending traffic) for `drain_s` seconds while requests are still served; then uvicorn stops
accepting connections and gives in-flight streams `grace_s` seconds to finish before cancelling them.
A second signal skips the drain.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import FrameType
from typing import Protocol, TypeVar

import uvicorn
from fastapi import FastAPI

from vibevoice_platform.logs import configure_logging

SettingsT = TypeVar("SettingsT", bound="ServiceSettings")


class DrainingServer(uvicorn.Server):
    """uvicorn.Server that announces draining before it stops."""

    def __init__(self, config: uvicorn.Config, on_drain: Callable[[], None], drain_s: float) -> None:
        super().__init__(config)
        self._on_drain = on_drain
        self._drain_s = drain_s
        self._timer: threading.Timer | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._timer is not None or self._drain_s <= 0:
            if self._timer is not None:
                self._timer.cancel()
            else:
                self._on_drain()
            super().handle_exit(sig, frame)
            return
        self._on_drain()
        self._timer = threading.Timer(self._drain_s, super().handle_exit, args=(sig, frame))
        self._timer.daemon = True
        self._timer.start()


class ServiceSettings(Protocol):
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


def run_service(settings: SettingsT, create_app: Callable[[SettingsT], FastAPI]) -> None:
    """Configure logging, build the app and serve it until a signal (the services' `main`)."""
    configure_logging(settings.log_level)
    app = create_app(settings)
    service: Drainable = app.state.service
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=settings.grace_s,
        lifespan="on",
    )
    DrainingServer(config, service.start_draining, settings.drain_s).run()
