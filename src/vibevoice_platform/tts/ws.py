"""`WS /v1/audio/stream`: text in as it is typed or generated, PCM16 frames out as it is spoken.

Client → server (JSON text frames):
    {"type": "start", "voice"?, "speed"?, "model"?}    first; takes a synthesis slot for the session
    {"type": "text", "text": "..."}                   incremental text; complete sentences are spoken
    {"type": "flush"}                                 speak what is pending now
    {"type": "cancel"}                                stop speaking, drop pending text
    {"type": "end"}                                   speak what is pending, then close
Server → client: binary PCM16 24 kHz mono frames, and JSON
    {"type": "started", ...}, {"type": "done", "cancelled", "audio_seconds"}, {"type": "error", ...}

`done` follows every flush, cancel and end once the audio before it is out. Invalid messages get an
`error` and the session goes on; a binary frame is a policy violation (close 1008); no slot is
close 1013 (try again later). The slot is held from `start` until the socket closes.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Annotated, Literal

import anyio
from anyio.abc import ObjectReceiveStream
from anyio.streams.memory import MemoryObjectSendStream
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from starlette.websockets import WebSocket, WebSocketDisconnect

from vibevoice_platform.api import SESSION_OVER, close_websocket
from vibevoice_platform.audio import duration_seconds
from vibevoice_platform.text import SentenceChunker
from vibevoice_platform.tts.errors import TTSError
from vibevoice_platform.tts.limits import Slot
from vibevoice_platform.tts.schemas import MAX_INPUT_CHARS
from vibevoice_platform.tts.service import SynthesisService

logger = logging.getLogger(__name__)
CLOSE_POLICY = 1008
CLOSE_TRY_LATER = 1013
MAX_PENDING_CHARS = 4 * MAX_INPUT_CHARS


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class StartMessage(_Message):
    type: Literal["start"]
    voice: str | None = None
    speed: float = Field(1.0, ge=0.25, le=4.0)
    model: str | None = None


class TextMessage(_Message):
    type: Literal["text"]
    text: str = Field(max_length=MAX_INPUT_CHARS)


class ControlMessage(_Message):
    type: Literal["flush", "cancel", "end"]


ClientMessage = Annotated[StartMessage | TextMessage | ControlMessage, Field(discriminator="type")]
_messages: TypeAdapter[StartMessage | TextMessage | ControlMessage] = TypeAdapter(ClientMessage)


@dataclass(frozen=True)
class _Done:
    """Marker in the speech queue: report `done` once everything before it is spoken."""

    cancelled: bool
    close: bool


_Item = tuple[int, str] | _Done  # (generation, sentence) or a marker


class _ProtocolError(Exception):
    def __init__(self, message: str, code: str = "invalid_message") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class AudioStreamSession:
    """One WebSocket session: a reader of client messages and a speaker of queued sentences."""

    def __init__(self, websocket: WebSocket, service: SynthesisService, idle_s: float) -> None:
        self._ws = websocket
        self._service = service
        self._idle_s = idle_s
        self._chunker = SentenceChunker()
        self._generation = 0  # bumped by cancel: queued items of older generations are dropped
        self._speaking = anyio.CancelScope()
        self._audio_bytes = 0
        self._queued = 0  # sentences queued or being spoken
        self._voice = ""
        self._speed = 1.0

    async def run(self) -> None:
        """Serve the session until `end`, a close by the client, or a fatal error."""
        await self._ws.accept()
        try:
            await self._run()
        except SESSION_OVER:  # the client left, or a limit closed the socket, at any point
            logger.info("audio stream client went away")

    async def _run(self) -> None:
        try:
            start = await self._receive_start()
        except _ProtocolError as exc:
            await self._send_error(exc.code, exc.message)
            await close_websocket(self._ws, CLOSE_POLICY, exc.message)
            return
        try:
            if start.model is not None:
                self._service.check_model(start.model)
            self._voice = self._service.prepare(start.voice, start.speed)
            self._speed = start.speed
            slot = await self._service.admit("stream")
        except TTSError as exc:
            await self._send_error(exc.code, exc.message)
            code = CLOSE_TRY_LATER if exc.status_code in (429, 503) else CLOSE_POLICY
            await close_websocket(self._ws, code, exc.message)
            return
        try:
            await self._serve(slot)
        finally:
            slot.release()

    async def _serve(self, slot: Slot) -> None:
        engine = self._service.engine
        started = {"type": "started", "voice": self._voice, "sample_rate": engine.sample_rate}
        await self._ws.send_json({**started, "format": "pcm_s16le"})
        send, receive = anyio.create_memory_object_stream[_Item](1024)
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._speak, receive, slot, tg.cancel_scope)
                await self._read(send)
        except* SESSION_OVER:
            logger.info("audio stream client went away")

    async def _receive_start(self) -> StartMessage:
        with anyio.move_on_after(self._idle_s):
            message = await self._next_message()
            if not isinstance(message, StartMessage):
                raise _ProtocolError("the first message must be {'type': 'start'}")
            return message
        raise _ProtocolError("no start message", code="idle_timeout")

    async def _next_message(self) -> StartMessage | TextMessage | ControlMessage:
        raw = await self._ws.receive()
        if raw["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(raw.get("code", 1000))
        if raw.get("bytes") is not None:
            raise _ProtocolError("binary frames are not accepted; send JSON text frames", "binary_frame")
        try:
            return _messages.validate_json(raw.get("text") or "")
        except ValidationError as exc:
            detail = exc.errors()[0]
            where = ".".join(str(p) for p in detail["loc"]) or "message"
            raise _ProtocolError(f"{where}: {detail['msg']}") from None

    async def _read(self, send: MemoryObjectSendStream[_Item]) -> None:
        while True:
            message = await self._receive_while_active()
            if message is not None and await self._handle(message, send):
                return

    async def _receive_while_active(self) -> StartMessage | TextMessage | ControlMessage | None:
        """The next valid message (None after reporting an invalid one); closes an idle session."""
        while True:
            with anyio.move_on_after(self._idle_s):
                try:
                    return await self._next_message()
                except _ProtocolError as exc:
                    await self._send_error(exc.code, exc.message)
                    if exc.code == "binary_frame":
                        await close_websocket(self._ws, CLOSE_POLICY, exc.message)
                        raise WebSocketDisconnect(CLOSE_POLICY) from None
                    return None
            if self._queued == 0:  # idle only when nothing is waiting to be spoken either
                message = f"no message for {self._idle_s:g} s"
                await self._send_error("idle_timeout", message)
                await close_websocket(self._ws, CLOSE_POLICY, message)
                raise WebSocketDisconnect(CLOSE_POLICY)

    async def _handle(
        self, message: StartMessage | TextMessage | ControlMessage, send: MemoryObjectSendStream[_Item]
    ) -> bool:
        """Act on one message; True once the session has ended."""
        if isinstance(message, StartMessage):
            await self._send_error("invalid_message", "the session has already started")
        elif isinstance(message, TextMessage):
            if len(self._chunker.pending) + len(message.text) > MAX_PENDING_CHARS:
                await self._send_error("too_much_text", f"more than {MAX_PENDING_CHARS} characters pending")
                return False
            for sentence in self._chunker.feed(message.text):
                await self._enqueue(send, sentence)
        elif message.type == "cancel":
            self._generation += 1
            self._chunker.reset()
            self._speaking.cancel()
            await send.send(_Done(cancelled=True, close=False))
        else:
            for sentence in self._chunker.flush():
                await self._enqueue(send, sentence)
            await send.send(_Done(cancelled=False, close=message.type == "end"))
            if message.type == "end":
                send.close()
                return True
        return False

    async def _enqueue(self, send: MemoryObjectSendStream[_Item], sentence: str) -> None:
        self._queued += 1
        await send.send((self._generation, sentence))

    async def _speak(
        self, receive: ObjectReceiveStream[_Item], slot: Slot, session_scope: anyio.CancelScope
    ) -> None:
        async with receive:
            async for item in receive:
                if isinstance(item, _Done):
                    await self._ws.send_json(
                        {
                            "type": "done",
                            "cancelled": item.cancelled,
                            "audio_seconds": round(duration_seconds(self._audio_bytes), 3),
                        }
                    )
                    self._audio_bytes = 0
                    if item.close:
                        await close_websocket(self._ws, 1000, "end of session: all text spoken")
                        session_scope.cancel()
                    continue
                generation, sentence = item
                try:
                    if generation == self._generation:
                        await self._say(sentence, slot)
                finally:
                    self._queued -= 1

    async def _say(self, sentence: str, slot: Slot) -> None:
        with anyio.CancelScope() as self._speaking:
            try:
                synthesis = await self._service.open_synthesis(
                    sentence, self._voice, self._speed, "stream", held=slot
                )
            except TTSError as exc:
                await self._send_error(exc.code, exc.message)
                return
            try:
                async for chunk in synthesis:
                    self._audio_bytes += len(chunk)
                    await self._ws.send_bytes(chunk)
            except TTSError as exc:
                await self._send_error(exc.code, exc.message)
            finally:
                await synthesis.aclose()

    async def _send_error(self, code: str, message: str) -> None:
        await self._ws.send_text(json.dumps({"type": "error", "code": code, "message": message}))


async def audio_stream(websocket: WebSocket) -> None:
    """Incremental text in, PCM16 frames out (see the module docstring for the protocol)."""
    service: SynthesisService = websocket.app.state.service
    idle_s: float = websocket.app.state.settings.ws_idle_s
    await AudioStreamSession(websocket, service, idle_s).run()
