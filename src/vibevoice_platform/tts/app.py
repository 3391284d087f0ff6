"""The TTS service's FastAPI application: routes, lifespan, error handlers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from vibevoice_platform.api import error_response, error_responses, service_app
from vibevoice_platform.auth import RateLimiter, protect
from vibevoice_platform.tts.encoders import MEDIA_TYPES, check_format
from vibevoice_platform.tts.engines import Engine, build_engine
from vibevoice_platform.tts.engines.espeak import pidfd_child_watcher
from vibevoice_platform.tts.errors import OverloadedError, TTSError
from vibevoice_platform.tts.limits import Admission
from vibevoice_platform.tts.metrics import TTSMetrics
from vibevoice_platform.tts.responses import SynthesisResponse, whole_file
from vibevoice_platform.tts.schemas import Health, ModelCard, ModelList, Readiness, SpeechRequest, VoiceList
from vibevoice_platform.tts.service import Status, SynthesisService
from vibevoice_platform.tts.settings import TTSSettings
from vibevoice_platform.tts.ws import audio_stream

logger = logging.getLogger(__name__)


def _service(request: Request) -> SynthesisService:
    return request.app.state.service


async def _tts_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TTSError)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, OverloadedError) else None
    if exc.status_code >= 500:
        logger.error("request failed: %s", exc.message)
    return error_response(
        exc.status_code,
        exc.message,
        error_type=exc.error_type,
        code=exc.code,
        param=exc.param,
        headers=headers,
    )


def _protect(app: FastAPI, settings: TTSSettings) -> None:
    """API keys, and a rate per key on speech requests and stream sessions (each process its own)."""
    limiter = None
    if settings.rate_limit_per_key_rps:
        limiter = RateLimiter(settings.rate_limit_per_key_rps, settings.rate_limit_burst)
    protect(app, settings.api_keys, limiter, frozenset({"/v1/audio/speech", "/v1/audio/stream"}))


def create_app(settings: TTSSettings, engine: Engine | None = None) -> FastAPI:
    """Build the app; the engine loads in the background so /health answers while a model loads."""
    engine = engine or build_engine(settings)
    metrics = TTSMetrics(engine.name)
    admission = Admission(
        settings.max_concurrency or engine.default_concurrency,
        settings.max_queue,
        settings.queue_timeout_s,
        on_change=metrics.admission_changed,
    )
    service = SynthesisService(engine, admission, metrics, load_stall_s=settings.load_stall_s)

    async def load() -> None:
        await service.load()
        stop_serving = getattr(app.state, "stop_serving", None)  # set by run_service
        if service.status is Status.FAILED and not settings.stay_up_unready and stop_serving is not None:
            logger.error(
                "exiting with status 1, the engine cannot serve: %s (--stay-up-unready keeps the process "
                "up, not ready)",
                service.detail,
            )
            stop_serving(1)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with pidfd_child_watcher():
            async with anyio.create_task_group() as tg:
                tg.start_soon(load)
                yield
                tg.cancel_scope.cancel()
            await engine.aclose()

    app = service_app(
        "VibeVoice TTS", "Streaming text-to-speech with an OpenAI-compatible API", lifespan, service
    )
    app.state.settings = settings
    _protect(app, settings)
    app.add_exception_handler(TTSError, _tts_error)

    @app.get("/health", response_model=Health, responses={503: {"model": Health}})
    async def health(response: Response) -> Health:
        """Liveness: the process serves requests, its engine has not failed and its load, while it
        loads, has made progress within `--load-stall-s`."""
        if service.status is Status.FAILED:
            response.status_code = 503
            return Health(status="failed", detail=service.detail)
        if (stalled := service.load_stalled()) is not None:
            response.status_code = 503
            return Health(status="stalled", detail=stalled)
        return Health(status="ok")

    @app.get("/ready", response_model=Readiness, responses={503: {"model": Readiness}})
    async def ready(response: Response) -> Readiness:
        """Readiness: 200 once the engine is loaded; 503 while loading, failed or draining."""
        state = service.readiness
        ready_now = state is Status.READY
        response.status_code = 200 if ready_now else 503
        return Readiness(
            status=state.value,
            engine=engine.name,
            model=engine.model if ready_now else None,
            sample_rate=engine.sample_rate if ready_now else None,
            voices=engine.voices if ready_now else [],
            detail=service.detail,
        )

    @app.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
    async def prometheus() -> Response:
        """Prometheus metrics."""
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/v1/models", response_model=ModelList)
    async def models() -> ModelList:
        """Models a request may name (OpenAI list shape)."""
        return ModelList(data=[ModelCard(id=model) for model in service.model_ids])

    @app.get("/v1/audio/voices", response_model=VoiceList)
    async def voices() -> VoiceList:
        """Voices a request may name: OpenAI names mapped onto engine voices, then engine voices."""
        return VoiceList(voices=engine.voices, default=engine.default_voice)

    audio_content = {
        media: {"schema": {"type": "string", "format": "binary"}} for media in MEDIA_TYPES.values()
    }

    @app.post(
        "/v1/audio/speech",
        response_class=Response,
        responses={
            200: {
                "description": "Audio streamed as it is synthesised (chunked), or SSE when stream_format=sse",
                "content": {**audio_content, "text/event-stream": {"schema": {"type": "string"}}},
            },
            **error_responses(400, 429, 503),
        },
    )
    async def create_speech(body: SpeechRequest) -> Response:
        """Synthesise speech (OpenAI `audio.speech.create`), streamed as it is made."""
        service.check_model(body.model)
        check_format(body.response_format)
        voice = service.prepare(body.voice, body.speed)
        synthesis = await service.open_synthesis(body.input, voice, body.speed, "speech")
        if not body.stream:
            return await whole_file(synthesis, body.response_format)
        return SynthesisResponse(synthesis, body.response_format, body.stream_format, body.input)

    app.add_api_websocket_route("/v1/audio/stream", audio_stream)
    return app
