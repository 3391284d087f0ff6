"""`POST /v1/agent/turn`'s response: the turn runs inside the response and ends if the client leaves.

Not a StreamingResponse over an async generator: the turn is a task group (LLM producer and speaker),
which must not be suspended at a `yield`. The response watches for the client's disconnect itself
and cancels the turn, which closes the LLM stream and the TTS request.

Text events wait up to `TEXT_WINDOW_S` for the text that follows them and leave together (each still
its own event): an LLM often delivers tokens in bursts (the scripted one all at once), and a write
per token is a system call and a wake-up of the client each, between the first sentence and its TTS
request on a busy machine. Any other event first sends the text before it, so the order is kept.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from vibevoice_platform.agent.events import sse_frame, to_sse
from vibevoice_platform.agent.turn import Emit, Event, TextDelta

RunTurn = Callable[[Emit], Awaitable[None]]
TEXT_WINDOW_S = 0.001


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

        pending: list[bytes] = []  # text frames not yet sent

        async def write(frame: bytes) -> None:
            await send({"type": "http.response.body", "body": frame, "more_body": True})

        async def flush() -> None:
            if pending:
                frames = b"".join(pending)
                pending.clear()
                await write(frames)

        async def flush_soon() -> None:
            nonlocal disconnected
            await anyio.sleep(TEXT_WINDOW_S)
            try:
                await flush()
            except OSError:  # the client left (or stopped reading): the turn ends as for a hang-up
                disconnected = True
                tg.cancel_scope.cancel()

        async def emit(event: Event) -> None:
            if isinstance(event, TextDelta):
                if not pending:
                    tg.start_soon(flush_soon)
                pending.append(to_sse(event))
                return
            await flush()
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
                await flush()
                await write(sse_frame("done", {}))
            except OSError:
                disconnected = True
            tg.cancel_scope.cancel()
        if not disconnected:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
