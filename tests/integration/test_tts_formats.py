"""Every OpenAI response format, streamed by a real service process and decoded by FFmpeg."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.integration.decode import decode_to_pcm16
from tests.support.processes import Service, free_port, running
from vibevoice_platform.audio import duration_seconds, rms_dbfs

pytestmark = pytest.mark.integration
# 40 characters of the sine engine: 2 s of a tone, made at twice real time, so a stream lasts a second.
TONE_TEXT = "y" * 40
CODECS = {"mp3": "mp3float", "opus": "opus", "aac": "aac", "flac": "flac", "wav": "pcm_s16le"}
MEDIA = {"mp3": "audio/mpeg", "opus": "audio/ogg", "aac": "audio/aac", "flac": "audio/flac"}


@pytest.fixture(scope="module")
def paced_tts() -> Iterator[Service]:
    port = free_port()
    command = ["vibevoice-tts", "--engine", "sine", "--sine-pace", "2", "--port", str(port)]
    with running(command, port=port) as service:
        yield service


def _active_streams(tts: Service) -> str:
    lines = httpx.get(f"{tts.url}/metrics").text.splitlines()
    return next(line for line in lines if line.startswith("vibevoice_tts_active_streams "))


@pytest.mark.parametrize("response_format", ["mp3", "opus", "aac", "flac", "wav"])
def test_each_format_streams_before_the_synthesis_ends(paced_tts: Service, response_format: str) -> None:
    body = {"model": "tts-1", "input": TONE_TEXT, "response_format": response_format}
    chunks: list[bytes] = []
    with httpx.stream("POST", f"{paced_tts.url}/v1/audio/speech", json=body, timeout=30) as response:
        assert response.status_code == 200
        assert response.headers.get("transfer-encoding") == "chunked"
        if response_format in MEDIA:
            assert response.headers["content-type"] == MEDIA[response_format]
        for chunk in response.iter_raw():
            if not chunks:  # the first bytes are out while the synthesis still runs
                assert _active_streams(paced_tts) == "vibevoice_tts_active_streams 1.0"
            chunks.append(chunk)
    assert len(chunks) > 3
    codec, pcm = decode_to_pcm16(b"".join(chunks))
    assert codec == CODECS[response_format]
    assert 1.9 < duration_seconds(len(pcm)) < 2.2  # 2 s, give or take an encoder's priming and padding
    assert rms_dbfs(pcm) > -20  # a 0.3 amplitude tone is about -13 dBFS


def test_openai_clients_default_format_is_mp3_of_real_speech(tts_espeak: Service) -> None:
    client = openai.OpenAI(base_url=f"{tts_espeak.url}/v1", api_key="not-needed")
    with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="nova", input="OpenAI's default format is mp3, and so is ours."
    ) as response:
        assert response.headers["content-type"] == "audio/mpeg"
        audio = b"".join(response.iter_bytes())
    codec, pcm = decode_to_pcm16(audio)
    assert codec == "mp3float"
    assert 1.0 < duration_seconds(len(pcm)) < 6.0
    assert rms_dbfs(pcm) > -35


def test_sse_carries_the_encoded_format(paced_tts: Service) -> None:
    body = {"model": "tts-1", "input": TONE_TEXT, "response_format": "opus", "stream_format": "sse"}
    response = httpx.post(f"{paced_tts.url}/v1/audio/speech", json=body, timeout=30)
    events = [json.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: ")]
    assert events[-1]["type"] == "speech.audio.done"
    audio = b"".join(base64.b64decode(e["audio"]) for e in events if e["type"] == "speech.audio.delta")
    codec, pcm = decode_to_pcm16(audio)
    assert codec == "opus"
    assert 1.9 < duration_seconds(len(pcm)) < 2.2
