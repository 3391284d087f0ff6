"""The agent service's FastAPI application."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import FastAPI, Header, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from vibevoice_platform.agent.llm import LLM, build_llm
from vibevoice_platform.agent.redis_store import RedisRateLimiter, RedisSessions, shared_redis
from vibevoice_platform.agent.schemas import (
    SESSION_ID_PATTERN,
    AgentHealth,
    AgentReadiness,
    TurnRequest,
    readiness_body,
)
from vibevoice_platform.agent.service import AgentService, TooManyTurnsError
from vibevoice_platform.agent.sessions import MemorySessions, SessionStore
from vibevoice_platform.agent.settings import AgentSettings
from vibevoice_platform.agent.sse import TurnEventResponse
from vibevoice_platform.agent.tts_client import TTSClient
from vibevoice_platform.agent.turn import Emit
from vibevoice_platform.agent.ws import agent_ws
from vibevoice_platform.api import error_response, error_responses, service_app
from vibevoice_platform.auth import Limiter, RateLimiter, protect

logger = logging.getLogger(__name__)
SSE_DESCRIPTION = (
    "Server-sent events: `text` {delta}, `audio` {seq, audio: base64 PCM16 24 kHz mono}, "
    "`metrics` {llm_ttft_ms, tts_ttfb_ms, turn_ttfa_ms, turn_e2e_ms}, `error` {code, message}, then `done`."
)


def create_app(settings: AgentSettings, llm: LLM | None = None) -> FastAPI:
    """Build the agent app around an LLM backend, a TTS client and a session store (Redis when a URL
    is given, shared by every replica; else this process's memory)."""
    redis = shared_redis(settings)
    sessions: SessionStore = (
        MemorySessions(settings.max_sessions, settings.history_messages, settings.session_ttl_s)
        if redis is None
        else RedisSessions(redis, settings.history_messages, settings.session_ttl_s)
    )
    service = AgentService(
        settings,
        llm or build_llm(settings),
        TTSClient(settings.tts_url, settings.tts_timeout_s, settings.tts_api_key),
        sessions,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ok, detail = await sessions.check()
        logger.log(logging.INFO if ok else logging.WARNING, "conversation histories: %s", detail)
        try:
            yield
        finally:
            await service.tts.aclose()
            await service.llm.aclose()
            await sessions.aclose()

    description = "A voice agent: LLM replies streamed sentence by sentence into speech"
    app = service_app("VibeVoice agent", description, lifespan, service)
    limiter: Limiter | None = None
    if settings.rate_limit_per_minute:
        limiter = RateLimiter(settings.rate_limit_per_minute / 60, settings.rate_limit_burst)
        if redis is not None:
            limiter = RedisRateLimiter(redis, limiter, service.store_failed)
    limited = frozenset({"/v1/agent/turn", "/v1/agent/ws"})
    protect(app, settings.api_keys, limiter, limited, ws_turn_type="user.text")

    @app.get("/health", response_model=AgentHealth)
    async def health() -> AgentHealth:
        """Liveness."""
        return AgentHealth()

    @app.get("/ready", response_model=AgentReadiness, responses={503: {"model": AgentReadiness}})
    async def ready(response: Response) -> AgentReadiness:
        """Readiness: 200 while the agent can serve (not draining, its LLM configured); the TTS's state
        is in the body and never makes it 503 (a TTS outage is an `error` event per turn)."""
        ok, checks = await service.readiness()
        response.status_code = 200 if ok else 503
        return readiness_body(ok, checks)

    @app.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
    async def prometheus() -> Response:
        """Prometheus metrics."""
        return Response(generate_latest(service.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.post(
        "/v1/agent/turn",
        response_class=Response,
        responses={
            200: {
                "description": SSE_DESCRIPTION,
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
            },
            **error_responses(429),
        },
    )
    async def turn(
        body: TurnRequest,
        x_session_id: Annotated[str | None, Header(pattern=SESSION_ID_PATTERN)] = None,
    ) -> Response:
        """One spoken turn: the reply's text and audio as server-sent events.

        The session is `session_id` in the body or the X-Session-ID header, which a load balancer can
        hash on to keep a conversation on the replica that holds its history.
        """
        try:
            service.take_turn_slot()
        except TooManyTurnsError as exc:
            return error_response(
                429, str(exc), error_type="rate_limit_error", code="overloaded", headers={"Retry-After": "1"}
            )

        async def run(emit: Emit) -> None:
            await service.run_turn(
                body.text,
                emit,
                transport="sse",
                voice=body.voice,
                session_id=body.session_id or x_session_id,
                system_prompt=body.system_prompt,
            )

        return TurnEventResponse(run, on_close=service.release_turn_slot)

    app.add_api_websocket_route("/v1/agent/ws", agent_ws)
    return app
