"""The TTS service as a real process: the official openai client, streaming, hang-ups, limits."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path

import httpx
import openai
import pytest

from tests.integration.conftest import StartTTS, espeak_pids
from tests.support.processes import (
    Service,
    blocked_writing_a_pipe,
    bytes_written,
    stalled_reader,
    wait_for,
)
from vibevoice_platform.audio import WAV_HEADER_SIZE, duration_seconds, parse_wav_header, rms_dbfs

pytestmark = pytest.mark.integration
LONG_TEXT = "This sentence is spoken again and again to make a long stream of speech. " * 55


def test_openai_client_streams_speech_unchanged(tts_espeak: Service) -> None:
    client = openai.OpenAI(base_url=f"{tts_espeak.url}/v1", api_key="not-needed")
    chunks: list[bytes] = []
    with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="alloy", input="Hello from the official OpenAI client.", response_format="wav"
    ) as response:
        for chunk in response.iter_bytes():
            chunks.append(chunk)
    audio = b"".join(chunks)
    assert parse_wav_header(audio[:WAV_HEADER_SIZE]) == (24_000, 1, 16)
    pcm = audio[WAV_HEADER_SIZE:]
    assert 1.0 < duration_seconds(len(pcm)) < 6.0
    assert rms_dbfs(pcm) > -35
    models = client.models.list()
    assert "tts-1" in [m.id for m in models.data]


def test_openai_client_sees_errors_as_openai_errors(tts_espeak: Service) -> None:
    client = openai.OpenAI(base_url=f"{tts_espeak.url}/v1", api_key="not-needed", max_retries=0)
    with pytest.raises(openai.BadRequestError) as raised:
        client.audio.speech.create(model="tts-1", voice="robot", input="hi")
    assert raised.value.code == "voice_not_found"
    with pytest.raises(openai.UnprocessableEntityError):
        client.audio.speech.create(model="tts-1", voice="alloy", input="hi", speed=9)


def test_espeak_speaks_each_speed_it_accepts_and_refuses_those_it_cannot(tts_espeak: Service) -> None:
    """espeak-ng speaks no slower than 80 words a minute (0.46 of its normal 175), so a slower speed is
    refused naming the range instead of being spoken at 0.46; up to OpenAI's 4.0 the audio's length
    follows 1/speed (before, 4.0 was clamped to 2.9 times as short)."""

    def seconds(speed: float) -> float:
        body = {"model": "tts-1", "input": LONG_TEXT[:600], "response_format": "pcm", "speed": speed}
        response = httpx.post(f"{tts_espeak.url}/v1/audio/speech", json=body, timeout=60)
        assert response.status_code == 200, response.text
        return duration_seconds(len(response.content))

    normal = seconds(1.0)
    for speed in (0.5, 2.0, 4.0):
        assert normal / seconds(speed) == pytest.approx(speed, rel=0.1)
    refused = httpx.post(
        f"{tts_espeak.url}/v1/audio/speech", json={"model": "tts-1", "input": "Hi.", "speed": 0.25}
    )
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert (error["code"], error["param"]) == ("unsupported_value", "speed")
    assert error["message"] == "the espeak engine speaks at speed 0.46 to 4; speed 0.25 is outside it"


def test_audio_arrives_before_synthesis_ends(tts_espeak: Service) -> None:
    body = {"model": "tts-1", "input": LONG_TEXT, "response_format": "pcm"}
    speaking_at_first_audio: list[int] | None = None
    chunks = total = 0
    with httpx.stream("POST", f"{tts_espeak.url}/v1/audio/speech", json=body, timeout=30) as response:
        assert response.headers.get("transfer-encoding") == "chunked"
        for chunk in response.iter_raw():
            if speaking_at_first_audio is None:
                speaking_at_first_audio = espeak_pids(tts_espeak, speaking=True)
            chunks += 1
            total += len(chunk)
    assert duration_seconds(total) > 120  # minutes of speech...
    assert chunks > 50  # ...streamed in many pieces...
    # ...the first while espeak-ng was still speaking (its 9.6 MB exceed what the pipes and socket
    # buffers hold before this client reads, so it cannot have finished); the pool's waiting ones
    # have not spoken.
    assert speaking_at_first_audio is not None
    assert len(speaking_at_first_audio) == 1


def test_slow_reader_holds_its_slot_and_hang_up_kills_espeak(start_tts: StartTTS) -> None:
    """With the warm pool on (the default: one waiting espeak-ng for the one slot)."""
    with start_tts("--engine", "espeak", "--max-concurrency", "1", "--max-queue", "0") as tts:
        text = LONG_TEXT.strip()  # at a quarter speed, about 20 MB of espeak-ng's 22.05 kHz PCM16
        body = json.dumps({"model": "tts-1", "response_format": "pcm", "speed": 0.5, "input": text})
        sock = stalled_reader(tts.port, body)
        # The reader stalls: espeak-ng must end up blocked on its full pipe, still holding the only
        # slot, having written no more than the kernel's buffers hold (the socket's send buffer at
        # its largest, the pipe, the server's bounded queue), instead of its audio piling up in memory.
        assert wait_for(lambda: any(map(blocked_writing_a_pipe, espeak_pids(tts, speaking=True)))), (
            "espeak-ng never blocked"
        )
        [pid] = espeak_pids(tts, speaking=True)
        socket_buffer_max = int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])
        # (espeak-ng writes about 5,000 bytes per character of this text at 80 wpm: 4,000 is a floor)
        assert bytes_written(pid) < socket_buffer_max + 2_000_000 < len(text) * 4_000
        refused = httpx.post(f"{tts.url}/v1/audio/speech", json={"model": "tts-1", "input": "hi"})
        assert refused.status_code == 429
        sock.close()  # hang up
        assert wait_for(lambda: not espeak_pids(tts, speaking=True)), "espeak-ng outlived the client"
        assert wait_for(lambda: httpx.post(
            f"{tts.url}/v1/audio/speech", json={"model": "tts-1", "input": "hi"}
        ).status_code == 200)  # fmt: skip
        assert wait_for(lambda: len(espeak_pids(tts, speaking=False)) == 1)  # the pool: one, not more
        metrics = httpx.get(f"{tts.url}/metrics").text
        assert "vibevoice_tts_active_streams 0.0" in metrics
        assert 'status="cancelled"' in metrics


@pytest.mark.serial  # a sub-second window: it must not share the machine
def test_overload_answers_429_with_retry_after(start_tts: StartTTS) -> None:
    flags = ("--engine", "sine", "--sine-pace", "1", "--max-concurrency", "1", "--max-queue", "1")
    with start_tts(*flags, "--queue-timeout-s", "0.5") as tts:
        body = {"model": "tts-1", "input": "x" * 40}  # 2 s of audio produced in real time
        results: dict[str, int] = {}

        def call(name: str) -> None:
            results[name] = httpx.post(f"{tts.url}/v1/audio/speech", json=body, timeout=10).status_code

        first = threading.Thread(target=call, args=("first",))
        first.start()
        assert wait_for(lambda: "vibevoice_tts_active_streams 1.0" in httpx.get(f"{tts.url}/metrics").text)
        queued = threading.Thread(target=call, args=("queued",))
        queued.start()
        assert wait_for(lambda: "vibevoice_tts_queue_depth 1.0" in httpx.get(f"{tts.url}/metrics").text)
        refused = httpx.post(f"{tts.url}/v1/audio/speech", json=body)
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "1"
        assert refused.json()["error"]["code"] == "server_overloaded"
        first.join()
        queued.join()
        assert results == {"first": 200, "queued": 429}  # the queued one timed out after 0.5 s


@pytest.mark.serial  # a sub-second window: it must not share the machine
def test_sigterm_drains_then_finishes_in_flight_streams(start_tts: StartTTS) -> None:
    # A drain of 3 s (a shorter one was seen over before the test could read /ready on a loaded
    # machine), and a stream of 5 s, which spans the drain and the shutdown after it.
    with start_tts("--engine", "sine", "--sine-pace", "1", "--drain-s", "3", "--grace-s", "10") as tts:
        received: list[int] = []
        body = {"model": "tts-1", "input": "y" * 100, "response_format": "pcm"}  # 5 s in real time

        def stream() -> None:
            with httpx.stream("POST", f"{tts.url}/v1/audio/speech", json=body, timeout=20) as response:
                received.append(sum(len(c) for c in response.iter_raw()))

        reader = threading.Thread(target=stream)
        reader.start()
        assert wait_for(lambda: "vibevoice_tts_active_streams 1.0" in httpx.get(f"{tts.url}/metrics").text)
        tts.process.send_signal(signal.SIGTERM)
        assert wait_for(lambda: httpx.get(f"{tts.url}/ready").status_code == 503, timeout=2.5)
        assert httpx.get(f"{tts.url}/ready").json()["status"] == "draining"
        reader.join(timeout=20)
        assert received == [5 * 48_000]  # the whole stream, not cut
        tts.process.wait(timeout=10)
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{tts.url}/health")


def test_a_draining_service_serves_the_requests_that_still_arrive(start_tts: StartTTS) -> None:
    """After SIGTERM /ready answers 503, and a request that still comes (on a client's kept-alive
    connection, or before a load balancer has caught up) is served, not refused: on a cluster, an
    agent's pooled connection to a TTS pod being replaced got 503 "the service is draining"."""
    with start_tts("--engine", "sine", "--drain-s", "600") as tts:
        tts.process.send_signal(signal.SIGTERM)
        assert wait_for(lambda: httpx.get(f"{tts.url}/ready").status_code == 503)
        assert httpx.get(f"{tts.url}/ready").json()["status"] == "draining"
        body = {"model": "tts-1", "input": "Still here.", "response_format": "pcm"}
        response = httpx.post(f"{tts.url}/v1/audio/speech", json=body, timeout=10)
        assert response.status_code == 200
        assert duration_seconds(len(response.content)) > 0.2
        tts.process.send_signal(signal.SIGTERM)  # a second signal ends the drain at once
        assert tts.process.wait(timeout=20) == 0


def test_espeak_keeps_one_process_waiting_per_slot_and_leaves_none_after_sigterm(
    start_tts: StartTTS,
) -> None:
    """The warm pool by default: one waiting espeak-ng per slot, each replaced after use, and at
    SIGTERM none left, neither those waiting nor one still speaking to a client that stopped reading."""
    with start_tts("--engine", "espeak", "--max-concurrency", "2", "--grace-s", "1") as tts:
        assert wait_for(lambda: len(espeak_pids(tts, speaking=False)) == 2)  # started at load
        waiting = set(espeak_pids(tts, speaking=False))
        body = {"model": "tts-1", "input": "Hello from a warm process.", "response_format": "pcm"}
        pcm = httpx.post(f"{tts.url}/v1/audio/speech", json=body, timeout=30).content
        assert 1.0 < duration_seconds(len(pcm)) < 5.0
        assert rms_dbfs(pcm) > -35
        assert wait_for(lambda: len(espeak_pids(tts, speaking=False)) == 2)  # the one used was replaced
        assert len(waiting & set(espeak_pids(tts, speaking=False))) == 1
        assert not espeak_pids(tts, speaking=True)
        stalled = json.dumps({"model": "tts-1", "response_format": "pcm", "speed": 0.5, "input": LONG_TEXT})
        sock = stalled_reader(tts.port, stalled)
        assert wait_for(lambda: any(map(blocked_writing_a_pipe, espeak_pids(tts, speaking=True))))
        assert wait_for(lambda: len(espeak_pids(tts, speaking=False)) == 2)
        pids = set(espeak_pids(tts, speaking=True)) | set(espeak_pids(tts, speaking=False))
        assert len(pids) == 3
        tts.process.send_signal(signal.SIGTERM)
        assert tts.process.wait(timeout=20) == 0  # after its 1 s of grace, the stalled stream is cut
        sock.close()
    assert not [pid for pid in pids if Path(f"/proc/{pid}").exists()], "an espeak-ng outlived the service"
