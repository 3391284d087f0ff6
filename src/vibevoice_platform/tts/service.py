"""The synthesis service: readiness, request checks, admission, metrics, around one engine.

`open_synthesis` does everything that can fail before audio flows (readiness, voice, model, a slot,
the engine's first chunk), so the HTTP layer can still answer with a proper error status; after that
the returned `Synthesis` streams, and its `aclose` always releases the slot and records the outcome.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable

import anyio

from vibevoice_platform.audio import duration_seconds
from vibevoice_platform.tts.engines import Engine
from vibevoice_platform.tts.errors import (
    EngineError,
    NotReadyError,
    TTSError,
    UnknownModelError,
    UnsupportedError,
)
from vibevoice_platform.tts.limits import Admission, Slot
from vibevoice_platform.tts.metrics import TTSMetrics

logger = logging.getLogger(__name__)
OPENAI_MODELS = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts")


class Status(enum.StrEnum):
    """Lifecycle of the service."""

    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"
    DRAINING = "draining"


class Synthesis:
    """One admitted synthesis: its audio, then exactly one release of its slot and one metrics record."""

    def __init__(
        self,
        *,
        first: bytes,
        rest: AsyncGenerator[bytes, None],
        slot: Slot,
        metrics: TTSMetrics,
        endpoint: str,
        started: float,
        admitted: float,
    ) -> None:
        self._first: bytes | None = first
        self._rest = rest
        self._slot = slot
        self._metrics = metrics
        self._endpoint = endpoint
        self._started = started
        self._ttfa = time.perf_counter() - started
        self._queue = admitted - started
        self._bytes = 0
        self._outcome = "cancelled"
        self._closed = False

    @property
    def ttfa_s(self) -> float:
        """Seconds from the request to the first audio chunk."""
        return self._ttfa

    @property
    def queue_s(self) -> float:
        """Seconds the request waited for a synthesis slot (part of `ttfa_s`)."""
        return self._queue

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._first is not None:
            first, self._first = self._first, None
            self._bytes += len(first)
            yield first
        try:
            async for chunk in self._rest:
                self._bytes += len(chunk)
                yield chunk
        except TTSError:
            self._outcome = "error"
            raise
        self._outcome = "ok"

    async def aclose(self) -> None:
        """Stop the engine if it is still running, free the slot, record the outcome (idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            with anyio.CancelScope(shield=True):
                await self._rest.aclose()
        finally:
            self._slot.release()
            elapsed = time.perf_counter() - self._started
            self._metrics.observe(
                self._endpoint, self._outcome, self._ttfa, elapsed, duration_seconds(self._bytes)
            )
            logger.info(
                "synthesis %s",
                self._outcome,
                extra={
                    "ttfa_ms": round(self._ttfa * 1000, 2),
                    "duration_ms": round(elapsed * 1000, 2),
                    "audio_s": round(duration_seconds(self._bytes), 3),
                },
            )


class LoadWatch:
    """When the engine's load last made progress, and which step that was: the engine's
    `LoadProgress` (it may report from a worker thread; a report is two assignments)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._since = clock()
        self.last_step = "the load started"

    def __call__(self, step: str) -> None:
        self._since, self.last_step = self._clock(), step

    def idle_s(self) -> float:
        """Seconds since the last step (or since the load started)."""
        return self._clock() - self._since


class SynthesisService:
    """The engine plus its admission control, readiness and metrics."""

    def __init__(
        self,
        engine: Engine,
        admission: Admission,
        metrics: TTSMetrics,
        *,
        load_stall_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.admission = admission
        self.metrics = metrics
        self.status = Status.LOADING  # the engine's: loading, ready or failed
        self.draining = False
        self.detail: str | None = None
        self.load_watch = LoadWatch(clock)
        self._load_stall_s = load_stall_s
        self._stall_logged = False

    @property
    def model_ids(self) -> list[str]:
        """Model names a request may use."""
        return list(dict.fromkeys([self.engine.name, self.engine.model, *OPENAI_MODELS]))

    async def load(self) -> None:
        """Load the engine; the service is ready afterwards, or failed with the reason."""
        self.load_watch("the load started")
        try:
            await self.engine.load(self.load_watch)
        except TTSError as exc:
            self.status, self.detail = Status.FAILED, exc.message
            logger.error("engine failed to load: %s", exc.message)
            return
        self.status = Status.READY
        logger.info("engine ready", extra={"engine": self.engine.name, "model": self.engine.model})

    def load_stalled(self) -> str | None:
        """Why the load counts as hung (no progress for `load_stall_s` while loading), or None: then
        liveness fails, so an orchestrator restarts the process (--load-stall-s; 0 never)."""
        idle = self.load_watch.idle_s()
        if self.status is not Status.LOADING or not self._load_stall_s or idle <= self._load_stall_s:
            return None
        detail = (
            f"the engine's load has made no progress for {idle:.0f} s (--load-stall-s "
            f"{self._load_stall_s:g}); its last step: {self.load_watch.last_step}"
        )
        if not self._stall_logged:
            self._stall_logged = True
            logger.error("%s", detail)
        return detail

    @property
    def readiness(self) -> Status:
        """What /ready reports: draining once told to stop, else the engine's status."""
        return Status.DRAINING if self.draining else self.status

    def start_draining(self) -> None:
        """SIGTERM: /ready answers 503 from now on, so load balancers send no more; requests that
        still come (on a client's kept-alive connection, or before a balancer has caught up) are served
        until the server stops, and in-flight streams finish."""
        self.draining = True

    def check_model(self, model: str) -> None:
        """Raise UnknownModelError unless `model` is served here."""
        if model not in self.model_ids:
            raise UnknownModelError(
                f"Unknown model {model!r}; GET /v1/models lists the models", param="model"
            )

    def prepare(self, voice: str | None, speed: float) -> str:
        """Check readiness and the request's voice and speed; return the native voice."""
        if self.status is not Status.READY:
            raise NotReadyError(
                f"the service is {self.status.value}" + (f": {self.detail}" if self.detail else "")
            )
        native = self.engine.resolve_voice(voice)
        low, high = self.engine.speed_range
        if not low <= speed <= high:
            what = "has no speed control" if low == high else f"speaks at speed {low:.2f} to {high:g}"
            raise UnsupportedError(
                f"the {self.engine.name} engine {what}; speed {speed:g} is outside it", param="speed"
            )
        return native

    async def admit(self, endpoint: str) -> Slot:
        """A synthesis slot, or OverloadedError (counted in the metrics)."""
        try:
            return await self.admission.acquire()
        except TTSError as exc:
            self.metrics.observe(endpoint, exc.code, None, 0.0, 0.0)
            raise

    async def open_synthesis(
        self, text: str, native_voice: str, speed: float, endpoint: str, *, held: Slot | None = None
    ) -> Synthesis:
        """Start synthesis in a new slot, or in `held` (which stays held); returns at the first audio."""
        started = time.perf_counter()
        slot = (await self.admit(endpoint)) if held is None else Slot(lambda: None)
        admitted = time.perf_counter()
        chunks = self.engine.synthesize(text, voice=native_voice, speed=speed)
        try:
            first = await anext(chunks)
        except BaseException as exc:
            with anyio.CancelScope(shield=True):
                await chunks.aclose()
            slot.release()
            error = (
                EngineError("the engine produced no audio") if isinstance(exc, StopAsyncIteration) else exc
            )
            status = error.code if isinstance(error, TTSError) else "cancelled"
            self.metrics.observe(endpoint, status, None, 0.0, 0.0)
            if error is exc:
                raise
            raise error from None
        return Synthesis(
            first=first,
            rest=chunks,
            slot=slot,
            metrics=self.metrics,
            endpoint=endpoint,
            started=started,
            admitted=admitted,
        )
