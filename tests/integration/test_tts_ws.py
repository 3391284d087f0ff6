"""`WS /v1/audio/stream` against a real TTS process."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.integration.conftest import StartTTS
from tests.support.processes import Service
from vibevoice_platform.audio import duration_seconds, rms_dbfs

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


def ws_url(service: Service) -> str:
    return service.url.replace("http://", "ws://") + "/v1/audio/stream"


async def receive_until(ws: ClientConnection, kind: str) -> tuple[bytes, list[dict[str, Any]]]:
    """Audio and JSON messages up to and including the first JSON message of type `kind`."""
    audio = bytearray()
    messages: list[dict[str, Any]] = []
    with anyio.fail_after(15):
        while True:
            frame = await ws.recv()
            if isinstance(frame, bytes):
                audio += frame
                continue
            messages.append(json.loads(frame))
            if messages[-1]["type"] == kind:
                return bytes(audio), messages


async def test_incremental_text_is_spoken_sentence_by_sentence(tts_espeak: Service) -> None:
    async with connect(ws_url(tts_espeak)) as ws:
        await ws.send(json.dumps({"type": "start", "voice": "nova"}))
        started = json.loads(await ws.recv())
        assert started == {
            "type": "started",
            "voice": "en-us+f3",
            "sample_rate": 24000,
            "format": "pcm_s16le",
        }
        for piece in ["Hello th", "ere. How are", " you today? I am ", "fine"]:
            await ws.send(json.dumps({"type": "text", "text": piece}))
        first = await ws.recv()  # the first sentence is spoken before any flush
        assert isinstance(first, bytes)
        await ws.send(json.dumps({"type": "flush"}))
        audio, messages = await receive_until(ws, "done")
        assert messages[-1]["cancelled"] is False
        pcm = first + audio
        assert messages[-1]["audio_seconds"] == pytest.approx(duration_seconds(len(pcm)), abs=0.002)
        assert duration_seconds(len(pcm)) > 2.0
        assert rms_dbfs(pcm) > -35
        await ws.send(json.dumps({"type": "text", "text": "Goodbye now."}))
        await ws.send(json.dumps({"type": "end"}))
        audio, messages = await receive_until(ws, "done")
        assert len(audio) > 0
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1000


async def test_cancel_stops_speech_and_drops_pending_text(start_tts: StartTTS) -> None:
    with start_tts("--engine", "sine", "--sine-pace", "1") as tts:
        async with connect(ws_url(tts)) as ws:
            await ws.send(json.dumps({"type": "start"}))
            await ws.recv()
            await ws.send(json.dumps({"type": "text", "text": "x" * 200 + ". And more text. "}))
            assert isinstance(await ws.recv(), bytes)
            await ws.send(json.dumps({"type": "cancel"}))
            audio, messages = await receive_until(ws, "done")
            assert messages[-1]["cancelled"] is True
            assert duration_seconds(len(audio)) < 1.0  # far less than the 10 s the text would take
            await ws.send(json.dumps({"type": "text", "text": "Short. "}))
            await ws.send(json.dumps({"type": "flush"}))
            audio, messages = await receive_until(ws, "done")
            assert messages[-1]["cancelled"] is False
            assert duration_seconds(len(audio)) == pytest.approx(0.3, abs=0.01)


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("not json", "invalid_message"),
        (json.dumps({"type": "shout"}), "invalid_message"),
        (json.dumps({"type": "text", "text": 5}), "invalid_message"),
        (json.dumps({"type": "text", "text": "x" * 5000}), "invalid_message"),
        (json.dumps({"type": "start"}), "invalid_message"),
    ],
)
async def test_garbage_gets_an_error_message_and_the_session_goes_on(
    sine_tts: Service, message: str, code: str
) -> None:
    async with connect(ws_url(sine_tts)) as ws:
        await ws.send(json.dumps({"type": "start"}))
        await ws.recv()
        await ws.send(message)
        error = json.loads(await ws.recv())
        assert error["type"] == "error"
        assert error["code"] == code
        assert error["message"]
        await ws.send(json.dumps({"type": "end"}))
        _, messages = await receive_until(ws, "done")
        assert messages[-1]["type"] == "done"


async def test_binary_frames_and_a_missing_start_are_policy_closes(sine_tts: Service) -> None:
    async with connect(ws_url(sine_tts)) as ws:
        await ws.send(json.dumps({"type": "text", "text": "hi"}))
        assert json.loads(await ws.recv())["type"] == "error"
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1008
    async with connect(ws_url(sine_tts)) as ws:
        await ws.send(json.dumps({"type": "start"}))
        await ws.recv()
        await ws.send(b"\x00\x01")
        assert json.loads(await ws.recv())["code"] == "binary_frame"
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1008


async def test_no_slot_closes_with_1013(start_tts: StartTTS) -> None:
    with start_tts("--engine", "sine", "--max-concurrency", "1", "--max-queue", "0") as tts:
        async with connect(ws_url(tts)) as holder:
            await holder.send(json.dumps({"type": "start"}))
            await holder.recv()
            async with connect(ws_url(tts)) as refused:
                await refused.send(json.dumps({"type": "start"}))
                error = json.loads(await refused.recv())
                assert error["code"] == "server_overloaded"
                with pytest.raises(ConnectionClosed) as closed:
                    await refused.recv()
                assert closed.value.rcvd is not None
                assert closed.value.rcvd.code == 1013
