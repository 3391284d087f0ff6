"""The TTS API in-process with the sine engine: contract, validation and error bodies."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest
from fastapi import FastAPI

from tests.support.inprocess import app_client
from vibevoice_platform.audio import WAV_HEADER_SIZE, duration_seconds, parse_wav_header
from vibevoice_platform.tts.app import create_app
from vibevoice_platform.tts.settings import TTSSettings

pytestmark = pytest.mark.anyio
SPEECH = {"model": "tts-1", "input": "Hello world.", "voice": "alloy"}


def sine_app(**overrides: Any) -> FastAPI:
    return create_app(TTSSettings(engine="sine", **overrides))


async def test_health_ready_models_voices() -> None:
    async with app_client(sine_app()) as client:
        assert (await client.get("/health")).json() == {"status": "ok", "detail": None}
        ready = (await client.get("/ready")).json()
        assert ready["status"] == "ready"
        assert ready["sample_rate"] == 24_000
        assert "alloy" in ready["voices"]
        models = (await client.get("/v1/models")).json()
        assert models["object"] == "list"
        assert {"sine", "tts-1", "tts-1-hd"} <= {m["id"] for m in models["data"]}
        voices = (await client.get("/v1/audio/voices")).json()
        assert voices["default"] == "sine-low"
        assert voices["voices"][:2] == ["alloy", "ash"]


async def test_speech_wav_and_pcm() -> None:
    async with app_client(sine_app()) as client:
        wav = await client.post("/v1/audio/speech", json={**SPEECH, "response_format": "wav"})
        assert wav.status_code == 200
        assert wav.headers["content-type"] == "audio/wav"
        assert parse_wav_header(wav.content[:WAV_HEADER_SIZE]) == (24_000, 1, 16)
        pcm = await client.post("/v1/audio/speech", json={**SPEECH, "response_format": "pcm"})
        assert pcm.headers["content-type"] == "audio/pcm"
        assert pcm.content == wav.content[WAV_HEADER_SIZE:]
        assert duration_seconds(len(pcm.content)) == pytest.approx(12 * 0.05, abs=0.01)
        assert len(wav.headers["x-request-id"]) == 32
        queue, engine = float(wav.headers["x-queue-ms"]), float(wav.headers["x-engine-ttfa-ms"])
        assert queue >= 0
        assert engine >= 0
        assert queue + engine == pytest.approx(float(wav.headers["x-ttfa-ms"]), abs=0.02)


async def test_speech_sse_follows_openai_event_shapes() -> None:
    async with app_client(sine_app()) as client:
        response = await client.post("/v1/audio/speech", json={**SPEECH, "stream_format": "sse"})
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [json.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: ")]
    assert {e["type"] for e in events[:-1]} == {"speech.audio.delta"}
    assert events[-1]["type"] == "speech.audio.done"
    assert events[-1]["usage"]["input_tokens"] == 2


@pytest.mark.parametrize(
    ("body", "status", "code", "param"),
    [
        ({**SPEECH, "input": ""}, 422, "string_too_short", "input"),
        ({**SPEECH, "input": "   \n\t"}, 422, "value_error", "input"),
        ({**SPEECH, "input": "x" * 4097}, 422, "string_too_long", "input"),
        ({**SPEECH, "voice": "robot"}, 400, "voice_not_found", "voice"),
        ({**SPEECH, "model": "whisper-1"}, 400, "model_not_found", "model"),
        ({**SPEECH, "response_format": "ogg"}, 422, "literal_error", "response_format"),
        ({**SPEECH, "speed": 4.5}, 422, "less_than_equal", "speed"),
        ({**SPEECH, "speed": 0.1}, 422, "greater_than_equal", "speed"),
        ({**SPEECH, "speed": "fast"}, 422, "float_type", "speed"),
        ({**SPEECH, "input": 42}, 422, "string_type", "input"),
        ({"input": "hi"}, 422, "missing", "model"),
        ({**SPEECH, "temperature": 1}, 422, "extra_forbidden", "temperature"),
        ([1, 2], 422, "model_attributes_type", None),
    ],
)
async def test_bad_input_is_a_4xx_with_an_openai_error_body(
    body: object, status: int, code: str, param: str | None
) -> None:
    async with app_client(sine_app()) as client:
        response = await client.post("/v1/audio/speech", json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["param"] == param
    assert error["type"] == "invalid_request_error"
    assert error["message"]


async def test_malformed_json_and_unknown_routes() -> None:
    async with app_client(sine_app()) as client:
        response = await client.post(
            "/v1/audio/speech",
            content=b'{"model": "tts-1", "input":',
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "json_invalid"
        missing = await client.get("/v1/nope")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "404"


@pytest.mark.parametrize("content_type", [None, "application/x-www-form-urlencoded"])
async def test_a_body_not_sent_as_json_says_how_to_send_it(content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    async with app_client(sine_app()) as client:
        response = await client.post("/v1/audio/speech", content=json.dumps(SPEECH).encode(), headers=headers)
    assert response.status_code == 422
    message = response.json()["error"]["message"]
    assert "send the body as JSON with Content-Type: application/json" in message
    assert (f"Content-Type: {content_type}" if content_type else "no Content-Type") in message


async def test_integer_speed_is_accepted() -> None:
    async with app_client(sine_app()) as client:
        assert (await client.post("/v1/audio/speech", json={**SPEECH, "speed": 2})).status_code == 200


async def test_overload_is_429_with_retry_after_when_no_slot_and_no_queue() -> None:
    app = sine_app(max_concurrency=1, max_queue=0)
    async with app_client(app) as client:
        held = await app.state.service.admit("speech")
        response = await client.post("/v1/audio/speech", json=SPEECH)
        held.release()
        assert response.status_code == 429
        assert int(response.headers["retry-after"]) >= 1
        assert response.json()["error"]["type"] == "rate_limit_error"
        assert (await client.post("/v1/audio/speech", json=SPEECH)).status_code == 200


async def test_failed_engine_is_unhealthy_and_unready_with_the_reason() -> None:
    app = create_app(TTSSettings(engine="espeak", espeak_binary="no-such-espeak"))
    async with app_client(app, ready_path=None) as client:
        with anyio.fail_after(5):
            while (await client.get("/ready")).json()["status"] == "loading":  # noqa: ASYNC110 - polling an HTTP API
                await anyio.sleep(0.01)
        ready = await client.get("/ready")
        assert ready.status_code == 503
        assert "no-such-espeak not found" in ready.json()["detail"]
        assert (await client.get("/health")).status_code == 503
        speech = await client.post("/v1/audio/speech", json=SPEECH)
        assert speech.status_code == 503
        assert speech.json()["error"]["code"] == "not_ready"


async def test_metrics_count_requests_by_status_and_ttfa() -> None:
    async with app_client(sine_app()) as client:
        await client.post("/v1/audio/speech", json=SPEECH)
        await client.post("/v1/audio/speech", json={**SPEECH, "voice": "robot"})
        text = (await client.get("/metrics")).text
    assert 'vibevoice_tts_requests_total{endpoint="speech",engine="sine",status="ok"} 1.0' in text
    assert 'vibevoice_tts_ttfa_seconds_count{endpoint="speech",engine="sine"} 1.0' in text
    assert "vibevoice_tts_real_time_factor_bucket" in text
    assert "vibevoice_tts_active_streams 0.0" in text
    assert "vibevoice_tts_queue_depth 0.0" in text


async def test_openapi_documents_the_error_bodies_it_really_sends() -> None:
    async with app_client(sine_app()) as client:
        schema = (await client.get("/openapi.json")).json()
    speech = schema["paths"]["/v1/audio/speech"]["post"]
    error_ref = {"$ref": "#/components/schemas/ErrorResponse"}
    for status in ("400", "422", "429", "503"):
        assert speech["responses"][status]["content"]["application/json"]["schema"] == error_ref
    assert {"audio/wav", "audio/pcm", "text/event-stream"} <= set(speech["responses"]["200"]["content"])
    assert "HTTPValidationError" not in schema["components"]["schemas"]


async def test_request_id_is_echoed_when_valid_and_replaced_when_not() -> None:
    async with app_client(sine_app()) as client:
        echoed = await client.get("/health", headers={"X-Request-ID": "abc-123"})
        assert echoed.headers["x-request-id"] == "abc-123"
        replaced = await client.get("/health", headers={"X-Request-ID": "bad id\n"})
        assert replaced.headers["x-request-id"] != "bad id"
