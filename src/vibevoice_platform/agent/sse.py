"""`POST /v1/agent/turn`'s response: the turn runs inside the response and ends if the client leaves.

Not a StreamingResponse over an async generator: the turn is a task group (LLM producer and speaker),
which must not be suspended at a `yield`. The response watches for the client's disconnect itself
and cancels the turn, which closes the LLM stream and the TTS request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from vibevoice_platform.agent.events import sse_frame, to_sse
from vibevoice_platform.agent.turn import Emit, Event

RunTurn = Callable[[Emit], Awaitable[None]]


class TurnEventResponse(Response):
    """Server-sent events of one turn, ending with `event: done`."""

    media_type = "text/event-stream"

    def __init__(self, run: RunTurn, on_close: Callable[[], None]) -> None:
        # Like StreamingResponse: no body attribute, so no Content-Length; the length is unknown.
        self.status_code = 200
        self.background = None
        self.init_headers({"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
        self._run = run
        self._on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self._stream(receive, send)
        finally:
            self._on_close()

    async def _stream(self, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        disconnected = False

        async def write(frame: bytes) -> None:
            await send({"type": "http.response.body", "body": frame, "more_body": True})

        async def emit(event: Event) -> None:
            await write(to_sse(event))

        async with anyio.create_task_group() as tg:

            async def watch_disconnect() -> None:
                nonlocal disconnected
                while (await receive())["type"] != "http.disconnect":
                    pass
                disconnected = True
                tg.cancel_scope.cancel()

            tg.start_soon(watch_disconnect)
            try:
                await self._run(emit)
                await write(sse_frame("done", {}))
            except OSError:
                disconnected = True
            tg.cancel_scope.cancel()
        if not disconnected:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
