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

import uvicorn
from fastapi import FastAPI


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


def serve(
    app: FastAPI, *, host: str, port: int, drain_s: float, grace_s: int, on_drain: Callable[[], None]
) -> None:
    """Serve `app` until a signal; logging is configured by the caller."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=grace_s,
        lifespan="on",
    )
    DrainingServer(config, on_drain, drain_s).run()
