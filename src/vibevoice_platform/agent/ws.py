"""`WS /v1/agent/ws`: a spoken conversation over one socket, with barge-in.

Client → server JSON: `{"type": "user.text", "text", "voice"?}` starts a response (interrupting one in
progress), `{"type": "interrupt"}` stops the response now, `{"type": "session.update", "voice"?,
"system_prompt"?}` changes the session. Server → client: `response.text.delta`, binary PCM16 frames,
`response.interrupted` then `response.done {"interrupted": true, "metrics": null}` after an interrupt
(an interrupt with no response in progress gets `response.done {"interrupted": false, "metrics":
null}`, so a client can always wait for done), `response.done {metrics}` after a whole response,
`session.updated {voice, system_prompt}` after a session.update, `error {code, message}`; a close
frame carries a reason. A session with no message for `--ws-idle-s` while no response is in progress,
or starting more than `--ws-max-turns-per-s` turns a second, is closed (1008).

An interrupt cancels the turn's task scope: the LLM stream and the TTS request close at once, and
`response.interrupted` is sent only after the turn has stopped, so no audio of it follows.
"""

from __future__ import annotations

import logging
from typing import Annotated, Literal

import anyio
from anyio.abc import TaskGroup
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from starlette.types import Message
from starlette.websockets import WebSocket, WebSocketDisconnect

from vibevoice_platform.agent.events import to_ws
from vibevoice_platform.agent.service import AgentService, TooManyTurnsError
from vibevoice_platform.agent.turn import Event
from vibevoice_platform.api import SESSION_OVER, close_websocket
from vibevoice_platform.auth import RateLimiter
from vibevoice_platform.logs import new_request_id

logger = logging.getLogger(__name__)
MAX_TEXT = 4096


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class UserText(_Message):
    type: Literal["user.text"]
    text: str = Field(min_length=1, max_length=MAX_TEXT, pattern=r"\S")
    voice: str | None = None


class Interrupt(_Message):
    type: Literal["interrupt"]


class SessionUpdate(_Message):
    type: Literal["session.update"]
    voice: str | None = None
    system_prompt: str | None = Field(None, max_length=MAX_TEXT)


ClientMessage = UserText | Interrupt | SessionUpdate
_messages: TypeAdapter[ClientMessage] = TypeAdapter(Annotated[ClientMessage, Field(discriminator="type")])


class _Response:
    """The turn in progress: its cancel scope and an event set when it has fully stopped."""

    def __init__(self) -> None:
        self.scope = anyio.CancelScope()
        self.finished = anyio.Event()


class Conversation:
    """One socket's session: a reader of client messages and at most one response at a time."""

    def __init__(self, websocket: WebSocket, service: AgentService) -> None:
        self._ws = websocket
        self._service = service
        self._idle_s = service.settings.ws_idle_s
        turns = service.settings.ws_max_turns_per_s
        self._turn_rate = RateLimiter(per_second=turns, burst=turns)
        self._session_id = new_request_id()
        self._voice: str | None = None
        self._system_prompt: str | None = None
        self._response: _Response | None = None

    async def run(self) -> None:
        """Serve until the client closes the socket."""
        await self._ws.accept()
        try:
            async with anyio.create_task_group() as tg:
                await self._read(tg)
        except* SESSION_OVER:
            pass
        finally:
            await self._interrupt(notify=False)

    async def _read(self, tg: TaskGroup) -> None:
        while True:
            raw = await self._receive()
            if raw["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(raw.get("code", 1000))
            if raw.get("bytes") is not None:
                message = "binary frames are not accepted; send JSON text frames"
                await self._send({"type": "error", "code": "binary_frame", "message": message})
                await close_websocket(self._ws, 1008, message)
                raise WebSocketDisconnect(1008)
            try:
                message = _messages.validate_json(raw.get("text") or "")
            except ValidationError as exc:
                detail = exc.errors()[0]
                where = ".".join(str(p) for p in detail["loc"]) or "message"
                await self._send(
                    {"type": "error", "code": "invalid_message", "message": f"{where}: {detail['msg']}"}
                )
                continue
            await self._handle(message, tg)

    async def _receive(self) -> Message:
        """The next ASGI message; closes the session (1008) after `ws_idle_s` with no message while
        no response is in progress (a silent client is only idle when it is not being answered)."""
        while True:
            with anyio.move_on_after(self._idle_s):
                return await self._ws.receive()
            if self._response is None or self._response.finished.is_set():
                message = f"no message for {self._idle_s:g} s"
                await self._send({"type": "error", "code": "idle_timeout", "message": message})
                await close_websocket(self._ws, 1008, message)
                raise WebSocketDisconnect(1008)

    async def _handle(self, message: ClientMessage, tg: TaskGroup) -> None:
        match message:
            case SessionUpdate(voice=voice, system_prompt=prompt):
                self._voice = voice or self._voice
                self._system_prompt = prompt or self._system_prompt
                await self._send(
                    {"type": "session.updated", "voice": self._voice, "system_prompt": self._system_prompt}
                )
            case Interrupt():
                if not await self._interrupt(notify=True):
                    await self._send({"type": "response.done", "interrupted": False, "metrics": None})
            case UserText(text=text, voice=voice):
                await self._check_turn_rate()
                await self._interrupt(notify=True)
                try:
                    self._service.take_turn_slot()
                except TooManyTurnsError as exc:
                    await self._send({"type": "error", "code": "overloaded", "message": str(exc)})
                    return
                self._response = _Response()
                tg.start_soon(self._respond, self._response, text, voice or self._voice)

    async def _check_turn_rate(self) -> None:
        """Close the session (1008) when turns start faster than `ws_max_turns_per_s`: each one would
        interrupt the last and cost an LLM stream and a TTS request, so a flood of them is refused
        here (the transport's message rate counts messages as the service reads them, which turns
        slow down)."""
        if self._turn_rate.take("turns") <= 0:
            return
        limit = self._service.settings.ws_max_turns_per_s
        message = f"more than {limit} turns a second (--ws-max-turns-per-s)"
        await self._send({"type": "error", "code": "rate_limit_exceeded", "message": message})
        await close_websocket(self._ws, 1008, message)
        raise WebSocketDisconnect(1008)

    async def _respond(self, response: _Response, text: str, voice: str | None) -> None:
        try:
            with response.scope:
                await self._service.run_turn(
                    text,
                    self._emit,
                    transport="ws",
                    voice=voice,
                    session_id=self._session_id,
                    system_prompt=self._system_prompt,
                )
        finally:
            self._service.release_turn_slot()
            response.finished.set()

    async def _interrupt(self, *, notify: bool) -> bool:
        """Stop the response in progress, if any (whether there was one)."""
        response, self._response = self._response, None
        if response is None or response.finished.is_set():
            return False
        response.scope.cancel()
        with anyio.CancelScope(shield=True):
            await response.finished.wait()
        if notify:  # then done, as after every response, so a client waiting for done does not hang
            await self._send({"type": "response.interrupted"})
            await self._send({"type": "response.done", "interrupted": True, "metrics": None})
        return True

    async def _emit(self, event: Event) -> None:
        message = to_ws(event)
        if isinstance(message, bytes):
            await self._ws.send_bytes(message)
        else:
            await self._send(message)

    async def _send(self, message: dict[str, object]) -> None:
        await self._ws.send_json(message)


async def agent_ws(websocket: WebSocket) -> None:
    """A spoken conversation (see the module docstring for the protocol)."""
    await Conversation(websocket, websocket.app.state.service).run()
