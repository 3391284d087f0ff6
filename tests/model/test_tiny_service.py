"""The tiny random model behind a real `vibevoice-tts` process: the real inference path on a CPU.

What happens inside the process is observed from outside: the kernel's list of its threads (the
generation worker is named `vibevoice-gen`), the engine's log line for each generation, /metrics.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
import httpx
import pytest
from websockets.asyncio.client import connect

from tests.model.conftest import LOAD_TIMEOUT_S, TinyTTS
from tests.model.observe import (
    FRAME_BYTES,
    assert_model_noise,
    generation_records,
    generation_threads,
    next_generation_record,
    tiny_frames,
    wait_for,
)
from tests.support.processes import Service, free_port, running
from vibevoice_platform.audio import WAV_HEADER_SIZE, duration_seconds, parse_wav_header

pytestmark = [pytest.mark.model, pytest.mark.integration, pytest.mark.usefixtures("longform_code")]
SPEECH = "The tiny model speaks noise, one frame of audio for every two characters of text. " * 4
LONG = "This sentence is spoken again and again to make a long stream of speech. " * 50


def speech_url(service: Service) -> str:
    return f"{service.url}/v1/audio/speech"


def no_generation_running(service: Service) -> bool:
    return not generation_threads(service)


def test_readiness_waits_for_the_model_and_voices_and_reports_them(tiny_tts: TinyTTS) -> None:
    assert tiny_tts.loading_status == 503
    assert tiny_tts.loading_body["status"] == "loading"
    assert (tiny_tts.loading_body["model"], tiny_tts.loading_body["voices"]) == (None, [])
    ready = httpx.get(f"{tiny_tts.service.url}/ready")
    assert ready.status_code == 200
    body = ready.json()
    assert (body["engine"], body["model"], body["sample_rate"]) == ("vibevoice", "tiny-random", 24_000)
    assert {"tiny-low", "tiny-high", "alloy", "nova"} <= set(body["voices"])
    models = [card["id"] for card in httpx.get(f"{tiny_tts.service.url}/v1/models").json()["data"]]
    assert "tiny-random" in models
    loaded = next(
        json.loads(line) for line in tiny_tts.service.output().splitlines() if '"model loaded"' in line
    )
    assert {k: loaded[k] for k in ("family", "device", "dtype", "threads")} == {
        "family": "longform",
        "device": "cpu",
        "dtype": "float32",
        "threads": 1,
    }


def test_speech_streams_audio_while_the_model_is_still_generating(tiny_tts: TinyTTS) -> None:
    service = tiny_tts.service
    seen = len(generation_records(service))
    body = {"model": "tiny-random", "input": SPEECH, "voice": "alloy", "response_format": "wav"}
    audio = bytearray()
    threads_after_three_frames: list[str] | None = None
    with httpx.stream("POST", speech_url(service), json=body, timeout=LOAD_TIMEOUT_S) as response:
        assert response.status_code == 200
        assert response.headers["transfer-encoding"] == "chunked"
        for data in response.iter_raw():
            audio += data
            if threads_after_three_frames is None and len(audio) >= WAV_HEADER_SIZE + 3 * FRAME_BYTES:
                threads_after_three_frames = generation_threads(service)
    # Several frames had arrived while `generate` was still running in its thread.
    assert threads_after_three_frames == ["vibevoice-gen"]
    assert parse_wav_header(bytes(audio[:WAV_HEADER_SIZE])) == (24_000, 1, 16)
    pcm = bytes(audio[WAV_HEADER_SIZE:])
    assert len(pcm) == tiny_frames(SPEECH) * FRAME_BYTES
    assert_model_noise(pcm)
    record = next_generation_record(service, seen)
    assert record["msg"] == "generation done"
    assert (record["chunks"], record["nonfinite_samples"]) == (tiny_frames(SPEECH), 0)
    assert wait_for(lambda: no_generation_running(service))


def test_the_websocket_speaks_each_sentence_as_model_frames(tiny_tts: TinyTTS) -> None:
    service = tiny_tts.service
    seen = len(generation_records(service))

    async def session() -> tuple[bytes, int, dict[str, Any]]:
        url = service.url.replace("http://", "ws://") + "/v1/audio/stream"
        async with connect(url) as ws:
            await ws.send(json.dumps({"type": "start", "voice": "tiny-high"}))
            started = json.loads(await ws.recv())
            assert started["voice"] == "tiny-high"
            await ws.send(json.dumps({"type": "text", "text": "Hello there. How are you"}))
            await ws.send(json.dumps({"type": "text", "text": " today?"}))
            await ws.send(json.dumps({"type": "end"}))
            audio, frames = bytearray(), 0
            with anyio.fail_after(LOAD_TIMEOUT_S):
                while isinstance(message := await ws.recv(), bytes):
                    audio += message
                    frames += 1
            return bytes(audio), frames, json.loads(message)

    audio, frames, done = anyio.run(session)
    assert done["type"] == "done"
    assert done["cancelled"] is False
    assert done["audio_seconds"] == pytest.approx(duration_seconds(len(audio)), abs=0.002)
    records = generation_records(service)[seen:]
    assert [r["msg"] for r in records] == ["generation done", "generation done"]  # two sentences
    assert len(audio) == sum(r["chunks"] for r in records) * FRAME_BYTES
    assert frames > 2
    assert_model_noise(audio)


def test_a_hang_up_stops_generation_within_a_step(tiny_tts: TinyTTS) -> None:
    service = tiny_tts.service
    seen = len(generation_records(service))
    body = {"model": "tts-1", "input": LONG, "response_format": "pcm"}
    with httpx.stream("POST", speech_url(service), json=body, timeout=LOAD_TIMEOUT_S) as response:
        chunks = response.iter_raw()
        received = 0
        while received < 3 * FRAME_BYTES:
            received += len(next(chunks))
        assert generation_threads(service) == ["vibevoice-gen"]
    # Leaving the block closed the connection: the client hung up.
    assert wait_for(lambda: no_generation_running(service)), "generation outlived the client"
    record = next_generation_record(service, seen)
    assert record["msg"] == "generation stopped"
    assert record["chunks_after_stop"] <= 1  # the step in flight, and no more
    assert record["chunks"] < tiny_frames(LONG) // 4
    metrics = httpx.get(f"{service.url}/metrics").text
    assert "vibevoice_tts_active_streams 0.0" in metrics
    assert 'status="cancelled"' in metrics


def test_a_second_request_while_one_generates_gets_429(tiny_tts: TinyTTS) -> None:
    service = tiny_tts.service
    body = {"model": "tts-1", "input": LONG, "response_format": "pcm"}
    with httpx.stream("POST", speech_url(service), json=body, timeout=LOAD_TIMEOUT_S) as first:
        chunks = first.iter_raw()  # keep a reference: a dropped iterator closes the stream
        assert next(chunks)
        refused = httpx.post(speech_url(service), json={"model": "tts-1", "input": "Me too."})
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.json()["error"]["code"] == "server_overloaded"
        assert generation_threads(service) == ["vibevoice-gen"]  # the first one goes on
    assert wait_for(lambda: no_generation_running(service))
    assert httpx.post(speech_url(service), json={"model": "tts-1", "input": "Now?"}).status_code == 200


def test_an_agent_interrupt_stops_generation_within_a_step(tiny_tts: TinyTTS) -> None:
    tts = tiny_tts.service
    # The scripted LLM says "Here is what I heard." (11 frames), then echoes this as one long chunk.
    question = "tell me about the old ships that sail the wide sea " * 5
    first_sentence_frames = tiny_frames("Here is what I heard.")

    async def interrupt_mid_sentence(agent: Service) -> int:
        async with connect(agent.url.replace("http://", "ws://") + "/v1/agent/ws") as ws:
            await ws.send(json.dumps({"type": "user.text", "text": question}))
            audio = 0
            with anyio.fail_after(LOAD_TIMEOUT_S):
                while audio < (first_sentence_frames + 3) * FRAME_BYTES:
                    if isinstance(frame := await ws.recv(), bytes):
                        audio += len(frame)
            seen = len(generation_records(tts))
            await ws.send(json.dumps({"type": "interrupt"}))
            with anyio.fail_after(10):
                while True:
                    frame = await ws.recv()
                    if isinstance(frame, str) and json.loads(frame)["type"] == "response.interrupted":
                        return seen

    port = free_port()
    command = ["vibevoice-agent", "--port", str(port), "--tts-url", tts.url, "--llm", "scripted"]
    with running([*command, "--scripted-token-delay-ms", "0"], port=port) as agent:
        seen = anyio.run(interrupt_mid_sentence, agent)
        assert wait_for(lambda: no_generation_running(tts)), "generation outlived the interrupt"
        record = next_generation_record(tts, seen)
        assert record["msg"] == "generation stopped"
        assert record["chunks_after_stop"] <= 1
        assert record["chunks"] < tiny_frames(question)
        metrics = httpx.get(f"{agent.url}/metrics").text
        assert 'vibevoice_agent_interruptions_total{transport="ws"} 1.0' in metrics
