"""One conversational turn: LLM deltas → sentence chunker → TTS per sentence → audio, in order.

The LLM producer and the speaker run concurrently: the first sentence is being spoken while the LLM
is still writing the next. Audio leaves in sentence order because one speaker takes sentences from a
queue. Any failure ends the turn with one `TurnError` (then metrics); cancelling the turn (interrupt,
hang-up) closes the LLM stream and the TTS request at once, which stops the synthesis upstream.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field

import anyio
from anyio.abc import ObjectReceiveStream, ObjectSendStream

from vibevoice_platform.agent.llm import LLM, LLMError, Message
from vibevoice_platform.agent.tts_client import TTSClient, TTSUnavailableError
from vibevoice_platform.text import SentenceChunker


@dataclass(frozen=True)
class TextDelta:
    """A piece of the reply text."""

    delta: str


@dataclass(frozen=True)
class AudioChunk:
    """PCM16 24 kHz mono audio; `seq` counts chunks within the turn from 0."""

    seq: int
    pcm: bytes


@dataclass(frozen=True)
class TurnError:
    """Why the turn ended early."""

    code: str
    message: str


@dataclass(frozen=True)
class TurnMetrics:
    """Latencies of the turn in milliseconds (None when the stage never produced anything)."""

    llm_ttft_ms: float | None
    tts_ttfb_ms: float | None
    turn_ttfa_ms: float | None
    turn_e2e_ms: float

    def as_dict(self) -> dict[str, float | None]:
        """JSON-ready, rounded to 0.01 ms."""
        return {k: None if v is None else round(v, 2) for k, v in self.__dict__.items()}


Event = TextDelta | AudioChunk | TurnError | TurnMetrics
Emit = Callable[[Event], Awaitable[None]]


@dataclass
class Turn:
    """State of one turn; `reply` holds the text produced so far, also after an interrupt."""

    llm: LLM
    tts: TTSClient
    voice: str
    reply: str = ""
    error: TurnError | None = None
    _started: float = field(default_factory=time.perf_counter)
    _llm_first: float | None = None
    _tts_requested: float | None = None
    _tts_first: float | None = None
    _audio_first: float | None = None
    _seq: int = 0

    async def run(self, messages: list[Message], emit: Emit) -> TurnMetrics:
        """Run the turn to its end, emitting events; returns (and emits) the metrics."""
        send, receive = anyio.create_memory_object_stream[str](64)
        async with anyio.create_task_group() as tg:

            def fail(error: TurnError) -> None:
                if self.error is None:
                    self.error = error
                tg.cancel_scope.cancel()

            tg.start_soon(self._produce, messages, send, emit, fail)
            tg.start_soon(self._speak, receive, emit, fail)
        if self.error is not None:
            await emit(self.error)
        metrics = TurnMetrics(
            llm_ttft_ms=self._since_start(self._llm_first),
            tts_ttfb_ms=None
            if self._tts_first is None or self._tts_requested is None
            else (self._tts_first - self._tts_requested) * 1000,
            turn_ttfa_ms=self._since_start(self._audio_first),
            turn_e2e_ms=(time.perf_counter() - self._started) * 1000,
        )
        await emit(metrics)
        return metrics

    def _since_start(self, moment: float | None) -> float | None:
        return None if moment is None else (moment - self._started) * 1000

    async def _produce(
        self,
        messages: list[Message],
        send: ObjectSendStream[str],
        emit: Emit,
        fail: Callable[[TurnError], None],
    ) -> None:
        chunker = SentenceChunker()
        async with send:
            try:
                async with aclosing(self.llm.stream(messages)) as deltas:
                    async for delta in deltas:
                        if self._llm_first is None:
                            self._llm_first = time.perf_counter()
                        self.reply += delta
                        # A finished sentence goes to the speaker before the delta to the client:
                        # its TTS request then leaves while the text event is being written.
                        for sentence in chunker.feed(delta):
                            await send.send(sentence)
                        await emit(TextDelta(delta))
            except LLMError as exc:
                fail(TurnError(exc.code, exc.message))
                return
            for sentence in chunker.flush():
                await send.send(sentence)
            if not self.reply.strip():
                fail(TurnError("llm_empty", "the LLM returned an empty reply"))

    async def _speak(
        self, receive: ObjectReceiveStream[str], emit: Emit, fail: Callable[[TurnError], None]
    ) -> None:
        async with receive:
            async for sentence in receive:
                if self._tts_requested is None:
                    self._tts_requested = time.perf_counter()
                try:
                    async with aclosing(self.tts.stream(sentence, self.voice)) as audio:
                        async for pcm in audio:
                            now = time.perf_counter()
                            self._tts_first = self._tts_first or now
                            self._audio_first = self._audio_first or now
                            await emit(AudioChunk(self._seq, pcm))
                            self._seq += 1
                except TTSUnavailableError as exc:
                    fail(TurnError(exc.code, exc.message))
                    return
