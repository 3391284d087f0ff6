"""Every OpenAI response format, streamed by a real service process and decoded by FFmpeg; and whole
files (`"stream": false`) that libsndfile and Python's `wave` read as well."""

from __future__ import annotations

import base64
import io
import itertools
import json
import wave
from collections.abc import Iterator

import httpx
import numpy as np
import openai
import pytest
import soundfile

from tests.integration.decode import decode_to_pcm16
from tests.support.ogg import read_pages
from tests.support.processes import Service, free_port, running
from tests.support.tools import unavailable
from vibevoice_platform.audio import SAMPLE_RATE, duration_seconds, rms_dbfs
from vibevoice_platform.tts import ogg_opus

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


def test_opus_streams_in_pages_of_at_most_60_ms(paced_tts: Service) -> None:
    """A realtime client hears the first audio 60 ms of it after the engine made it, not a second."""
    if not ogg_opus.available():
        unavailable("libopusenc not installed (Debian: apt-get install libopusenc0)")
    body = {"model": "tts-1", "input": TONE_TEXT, "response_format": "opus"}
    received = b""
    with httpx.stream("POST", f"{paced_tts.url}/v1/audio/speech", json=body, timeout=30) as response:
        chunks = response.iter_raw()
        for chunk in chunks:
            received += chunk
            if audio := [page for page in read_pages(received, cut_end=True) if page.granule]:
                assert audio[0].granule <= 60 * 48  # granule positions count 48 kHz samples
                assert _active_streams(paced_tts) == "vibevoice_tts_active_streams 1.0"
                break
        received += b"".join(chunks)
    granules = [page.granule for page in read_pages(received)]
    assert max(after - before for before, after in itertools.pairwise(granules)) <= 60 * 48


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


def test_a_whole_file_has_headers_every_reader_takes(paced_tts: Service) -> None:
    """Streamed, FLAC's STREAMINFO and the WAV sizes say "length unknown" (libsndfile cannot read such
    a FLAC, and `wave` counts 2^31-1 frames); with `"stream": false` the file comes whole, with its
    length, and its header holds the real sizes."""
    expected = 2 * SAMPLE_RATE  # 40 characters of the sine engine: 2 s
    files = {}
    for response_format in ("flac", "wav"):
        body = {"model": "tts-1", "input": TONE_TEXT, "response_format": response_format, "stream": False}
        response = httpx.post(f"{paced_tts.url}/v1/audio/speech", json=body, timeout=30)
        assert response.status_code == 200
        assert int(response.headers["content-length"]) == len(response.content)
        files[response_format] = response.content
    for data in files.values():
        info = soundfile.info(io.BytesIO(data))
        assert (info.frames, info.samplerate, info.channels) == (expected, SAMPLE_RATE, 1)
        samples, _ = soundfile.read(io.BytesIO(data), dtype="int16")
        assert len(samples) == expected
        assert np.abs(samples).max() > 8000
    with wave.open(io.BytesIO(files["wav"])) as saved:
        assert (saved.getnframes(), saved.getframerate(), saved.getnchannels()) == (expected, SAMPLE_RATE, 1)
        assert len(saved.readframes(expected + 1)) == 2 * expected
    streamed = httpx.post(
        f"{paced_tts.url}/v1/audio/speech",
        json={"model": "tts-1", "input": TONE_TEXT, "response_format": "wav"},
        timeout=30,
    )
    with wave.open(io.BytesIO(streamed.content)) as live:  # the documented streaming header
        assert live.getnframes() == 2**31 - 1


def test_a_whole_file_is_not_an_event_stream(paced_tts: Service) -> None:
    body = {"model": "tts-1", "input": "Hi.", "stream": False, "stream_format": "sse"}
    response = httpx.post(f"{paced_tts.url}/v1/audio/speech", json=body)
    assert response.status_code == 422
    assert "stream false sends a whole audio file" in response.json()["error"]["message"]
