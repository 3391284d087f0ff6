"""The agent's orchestration: admission of turns, histories, metrics, readiness."""

from __future__ import annotations

import logging
from typing import Any

import anyio

from vibevoice_platform.agent.llm import LLM, Message
from vibevoice_platform.agent.metrics import AgentMetrics
from vibevoice_platform.agent.sessions import SessionStore, SessionStoreError, build_messages
from vibevoice_platform.agent.settings import AgentSettings
from vibevoice_platform.agent.tts_client import TTSClient
from vibevoice_platform.agent.turn import Emit, Turn, TurnMetrics

logger = logging.getLogger(__name__)


# What a failed call to the session store means, by operation (its log line says so).
STORE_FAILURE_OUTCOMES = {
    "read": "the turn goes on without its history",
    "record": "the exchange is left out of its history",
    "rate_limit": "the key's rate is counted in this pod",
}


class TooManyTurnsError(Exception):
    """Every turn slot is taken."""


class AgentService:
    """Runs turns against one LLM and one TTS service."""

    def __init__(self, settings: AgentSettings, llm: LLM, tts: TTSClient, sessions: SessionStore) -> None:
        self.settings = settings
        self.llm = llm
        self.tts = tts
        self.sessions = sessions
        self.metrics = AgentMetrics()
        self.draining = False
        self._turn_slots = anyio.Semaphore(settings.max_turns)

    def start_draining(self) -> None:
        """SIGTERM: report not ready from now on, while in-flight turns finish."""
        self.draining = True

    async def readiness(self) -> tuple[bool, dict[str, dict[str, Any]]]:
        """(ready, checks): whether the agent itself can serve, and each dependency's state, probed now.

        Only the agent's own state decides: it is draining, or its LLM backend is not configured (no
        API key: no turn could work). The TTS's state, and the LLM server's, are reported and do not
        make it unready: an outage of either is an `error` event per turn (`tts_unavailable`), never
        an agent taken out of its Service, which would turn every client's turn into a refused
        connection instead (a single-GPU TTS upgrade is such an outage). The session store's state is
        reported the same way: without it turns go on, without their history."""
        tts_ok, tts_detail = await self.tts.check()
        llm_ok, llm_detail = await self.llm.check()
        sessions_ok, sessions_detail = await self.sessions.check()
        checks: dict[str, dict[str, Any]] = {
            "server": {"ok": not self.draining, "detail": "draining" if self.draining else "serving"},
            "llm": {"ok": llm_ok, "detail": f"{self.llm.name}: {llm_detail}"},
            "tts": {"ok": tts_ok, "detail": tts_detail},
            "sessions": {"ok": sessions_ok, "detail": sessions_detail},
        }
        return not self.draining and llm_ok, checks

    def store_failed(self, operation: str, error: SessionStoreError) -> None:
        """Count and log a failed call to the session store; what called it goes on without it."""
        self.metrics.session_store_errors.labels(operation).inc()
        logger.warning(
            "session store failed (%s): %s",
            STORE_FAILURE_OUTCOMES[operation],
            error,
            extra={"operation": operation, "store": self.sessions.name},
        )

    async def _history(self, session_id: str | None) -> list[Message]:
        """The session's history; empty for an anonymous turn, or when the store fails (logged)."""
        if session_id is None:
            return []
        try:
            return await self.sessions.history(session_id)
        except SessionStoreError as exc:
            self.store_failed("read", exc)
            return []

    async def _record(self, session_id: str | None, user: str, assistant: str) -> None:
        """Add the exchange to the session's history, also when the turn was cancelled (an interrupt:
        the reply so far is kept); a store failure is logged, the exchange lost."""
        if session_id is None:
            return
        with anyio.CancelScope(shield=True):
            try:
                await self.sessions.record(session_id, user, assistant)
            except SessionStoreError as exc:
                self.store_failed("record", exc)

    def take_turn_slot(self) -> None:
        """Claim a turn slot or raise TooManyTurnsError; pair with `release_turn_slot`."""
        try:
            self._turn_slots.acquire_nowait()
        except anyio.WouldBlock:
            raise TooManyTurnsError(f"{self.settings.max_turns} turns are already in progress") from None

    def release_turn_slot(self) -> None:
        """Give a turn slot back."""
        self._turn_slots.release()

    async def run_turn(
        self,
        text: str,
        emit: Emit,
        *,
        transport: str,
        voice: str | None = None,
        session_id: str | None = None,
        system_prompt: str | None = None,
    ) -> None:
        """Run one turn to its end; interrupted turns end by cancellation and are recorded as such."""
        history = await self._history(session_id)
        messages = build_messages(system_prompt or self.settings.system_prompt, history, text)
        turn = Turn(self.llm, self.tts, voice or self.settings.voice)
        status = "interrupted"
        metrics: TurnMetrics | None = None
        self.metrics.active_turns.inc()
        try:
            metrics = await turn.run(messages, emit)
            status = "ok" if turn.error is None else "error"
        finally:
            self.metrics.active_turns.dec()
            await self._record(session_id, text, turn.reply)
            self.metrics.observe(transport, status, metrics)
            logger.info(
                "turn %s",
                status,
                extra={"transport": transport, **(metrics.as_dict() if metrics else {})}
                | ({"error": turn.error.code} if turn.error else {}),
            )
