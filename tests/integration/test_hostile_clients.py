"""Clients that misbehave on purpose, against the real services: each gets a 4xx with OpenAI's error
body or a WebSocket close code with a reason, and the services go on serving well-behaved clients.

Counts are small here (a few connections each); `scripts/soak.py hostile` runs the full ones.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

import anyio
import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.frames import Close

from tests.integration.conftest import StartTTS, espeak_pids
from tests.support.processes import Service, stalled_reader

pytestmark = [pytest.mark.integration]
StartAgent = Callable[..., AbstractContextManager[Service]]
JSON = {"Content-Type": "application/json"}
SPEECH = {"model": "tts-1", "input": "Hello there.", "response_format": "pcm"}


def _raw_response(sock: socket.socket, timeout: float = 10.0) -> bytes:
    """Everything the server sends until it closes the connection."""
    sock.settimeout(timeout)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def _error_of(raw: bytes) -> tuple[int, dict[str, str]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)["error"]


def _response_while_sending(sock: socket.socket, body: bytes) -> bytes:
    """Send `body` as far as the server takes it, then its response (headers and JSON body)."""
    sock.settimeout(10)
    with contextlib.suppress(OSError):
        sock.sendall(body)
    data = b""
    while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_slow_or_missing_headers_get_408_while_others_are_served(start_tts: StartTTS) -> None:
    with start_tts("--engine", "sine", "--header-timeout-s", "1") as tts:
        silent = socket.create_connection(("127.0.0.1", tts.port))
        dribblers = [socket.create_connection(("127.0.0.1", tts.port)) for _ in range(5)]
        request = b"POST /v1/audio/speech HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        for sock in dribblers:
            sock.sendall(request[:10])
        for byte in request[10:20]:  # a byte every 50 ms: the headers never finish in time
            for sock in dribblers:
                sock.sendall(bytes([byte]))
            time.sleep(0.05)
        assert httpx.post(f"{tts.url}/v1/audio/speech", json=SPEECH).status_code == 200
        for sock in [silent, *dribblers]:
            status, error = _error_of(_raw_response(sock))
            assert status == 408
            assert error["code"] == "request_timeout"
            sock.close()
        # A keep-alive connection that starts a second request and dribbles it is cut too.
        with socket.create_connection(("127.0.0.1", tts.port)) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")
            sock.sendall(b"GET /health HTTP/1.1\r\n")
            status, error = _error_of(_raw_response(sock))
        assert (status, error["code"]) == (408, "request_timeout")


def test_large_bodies_long_input_and_invalid_utf8_are_4xx(start_tts: StartTTS) -> None:
    with start_tts("--engine", "sine", "--max-body-bytes", "65536") as tts:
        url = f"{tts.url}/v1/audio/speech"
        with socket.create_connection(("127.0.0.1", tts.port)) as sock:  # 10 MB announced, and sent
            raw = _response_while_sending(
                sock,
                b"POST /v1/audio/speech HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 10485760\r\n\r\n" + b"{" * 10_485_760,
            )
        status, error = _error_of(raw)
        assert (status, error["code"]) == (413, "request_too_large")
        assert "--max-body-bytes" in error["message"]
        with socket.create_connection(("127.0.0.1", tts.port)) as sock:  # chunked: no length announced
            chunk = b"x" * 16384
            raw = _response_while_sending(
                sock,
                b"POST /v1/audio/speech HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n" + (b"4000\r\n" + chunk + b"\r\n") * 5,
            )
        status, error = _error_of(raw)
        assert (status, error["code"]) == (413, "request_too_large")
        long_input = httpx.post(url, json={**SPEECH, "input": "a" * 60_000})
        assert long_input.status_code == 422
        assert long_input.json()["error"]["param"] == "input"
        invalid = httpx.post(url, content=b'{"model": "tts-1", "input": "\xff\xfe"}', headers=JSON)
        assert invalid.status_code == 400
        assert invalid.json()["error"]["type"] == "invalid_request_error"
        assert httpx.post(url, json=SPEECH).status_code == 200


async def _closed_with(ws: ClientConnection) -> Close:
    with anyio.fail_after(15):
        await ws.wait_closed()
    close = ws.protocol.close_rcvd
    assert close is not None
    return close


@pytest.mark.anyio
async def test_websocket_sessions_message_size_rate_and_encoding_are_limited(start_tts: StartTTS) -> None:
    flags = ("--ws-max-sessions", "2", "--ws-max-messages-per-s", "20", "--ws-max-message-bytes", "4096")
    with start_tts("--engine", "sine", *flags) as tts:
        url = tts.url.replace("http://", "ws://") + "/v1/audio/stream"
        async with connect(url) as first, connect(url) as second:
            async with connect(url) as third:
                close = await _closed_with(third)
            assert close.code == 1013
            assert "--ws-max-sessions" in close.reason
            await first.send(json.dumps({"type": "start"}))
            assert json.loads(await first.recv())["type"] == "started"
            for _ in range(100):  # a flood of text messages
                await first.send(json.dumps({"type": "text", "text": "and "}))
            close = await _closed_with(first)
            assert close.code == 1008
            assert "--ws-max-messages-per-s" in close.reason
            await second.send(json.dumps({"type": "text", "text": "x" * 8192}))
            close = await _closed_with(second)
            assert close.code == 1009
        async with connect(url) as ws:
            await ws.send(b'{"type": "start", "voice": "\xff"}', text=True)
            close = await _closed_with(ws)
        assert close.code == 1007  # uvicorn's own close (it gives no reason), logged as one warning
        assert "not UTF-8: closed with 1007" in tts.output()
        async with connect(url) as ws:  # and a well-behaved session still works
            await ws.send(json.dumps({"type": "start"}))
            await ws.send(json.dumps({"type": "text", "text": "Still here."}))
            await ws.send(json.dumps({"type": "end"}))
            close = await _closed_with(ws)
        assert close.code == 1000
        assert "Traceback" not in tts.output()  # sessions that ended before `start` are no crash


@pytest.mark.anyio
async def test_agent_closes_idle_sockets_turn_floods_and_sessions_beyond_the_limit(
    sine_tts: Service, start_agent: StartAgent
) -> None:
    flags = ("--llm", "scripted", "--ws-idle-s", "1", "--ws-max-sessions", "1", "--max-body-bytes", "4096")
    with start_agent(sine_tts.url, *flags) as agent:
        url = agent.url.replace("http://", "ws://") + "/v1/agent/ws"
        async with connect(url) as idle:
            async with connect(url) as extra:
                close = await _closed_with(extra)
            assert close.code == 1013
            error = json.loads(await idle.recv())
            assert error["code"] == "idle_timeout"
            close = await _closed_with(idle)
        assert (close.code, close.reason) == (1008, "no message for 1 s")
        async with connect(url) as flooder:  # turns started faster than a person could
            for _ in range(20):
                await flooder.send(json.dumps({"type": "user.text", "text": "hi"}))
            close = await _closed_with(flooder)
        assert close.code == 1008
        assert "--ws-max-turns-per-s" in close.reason
        async with httpx.AsyncClient() as client:
            big = await client.post(f"{agent.url}/v1/agent/turn", json={"text": "x" * 8000})
        assert big.status_code == 413
        assert big.json()["error"]["code"] == "request_too_large"


def test_a_client_that_stops_reading_loses_its_slot(start_tts: StartTTS) -> None:
    flags = ("--max-concurrency", "1", "--max-queue", "0", "--send-timeout-s", "1")
    with start_tts("--engine", "espeak", *flags) as tts:
        text = "This sentence is spoken again and again to make a long stream of speech. " * 50
        body = json.dumps({"model": "tts-1", "response_format": "pcm", "speed": 0.5, "input": text})
        sock = stalled_reader(tts.port, body)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if httpx.post(f"{tts.url}/v1/audio/speech", json=SPEECH).status_code == 200:
                break
            time.sleep(0.2)
        else:
            pytest.fail("the stalled client kept its slot")
        assert not espeak_pids(tts, speaking=True)  # the stalled client's was killed
        assert "took no data for 1 s" in tts.output()
        sock.settimeout(10)
        with contextlib.suppress(OSError):  # its connection is closed: a reset, or the end of the data
            while sock.recv(65536):
                pass
        sock.close()
    # uvicorn saw a hang-up, not an app that returned without completing its response
    assert "without completing response" not in tts.output()


def _head(size: int) -> bytes:
    """A request whose line and headers come to about `size` bytes."""
    start = b"GET /health HTTP/1.1\r\nHost: x\r\n"
    filler = b"X-Filler: " + b"a" * (size - len(start) - 14) + b"\r\n"
    return start + filler + b"\r\n"


def _status_of(port: int, request: bytes, piece: int) -> int:
    """Send `request` in writes of `piece` bytes, each in a packet of its own; the answer's status."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with contextlib.suppress(OSError):  # refused part-way: the server closes the connection
            for start in range(0, len(request), piece):
                sock.sendall(request[start : start + piece])
                if piece < len(request):
                    time.sleep(0.005)  # so the pieces arrive apart, not coalesced into one read
        sock.settimeout(10)
        return int(sock.recv(65536).split()[1])


@pytest.mark.parametrize("writes", ["one write", "many writes"])
def test_headers_over_16_kib_get_400_however_they_arrive(start_tts: StartTTS, writes: str) -> None:
    with start_tts("--engine", "sine") as tts:
        for size, expected in ((12_000, 200), (20_000, 400), (65_000, 400), (200_000, 400)):
            request = _head(size)
            piece = len(request) if writes == "one write" else 1024
            assert _status_of(tts.port, request, piece) == expected, size
        assert httpx.get(f"{tts.url}/health").status_code == 200


@pytest.mark.anyio
async def test_frames_uvicorn_refuses_mid_session_leave_no_traceback(
    start_tts: StartTTS, start_agent: StartAgent
) -> None:
    """A TTS session sent `start` then a text frame that is not UTF-8, and an agent session sent a
    message over the size limit while its turn is being answered, many times over: each is closed
    with uvicorn's code (1007, 1009) as the app goes on sending, and neither service logs an error.
    (Before, uvicorn raised "Unexpected ASGI message 'websocket.send', after sending
    'websocket.close'" into the app: 10 times in 10 for the TTS, 3 in 10 for the agent.)"""
    with (
        start_tts("--engine", "sine", "--sine-pace", "4") as tts,
        start_agent(tts.url, "--llm", "scripted", "--ws-max-message-bytes", "4096") as agent,
    ):
        tts_url = tts.url.replace("http://", "ws://") + "/v1/audio/stream"
        for _ in range(10):
            async with connect(tts_url) as ws:
                await ws.send(json.dumps({"type": "start"}))
                await ws.send(b"\xff\xfe not UTF-8", text=True)
                close = await _closed_with(ws)
            assert close.code == 1007
        agent_url = agent.url.replace("http://", "ws://") + "/v1/agent/ws"
        for _ in range(10):
            async with connect(agent_url) as ws:
                await ws.send(json.dumps({"type": "user.text", "text": "Tell me about the sea. " * 20}))
                with anyio.fail_after(15):
                    while not isinstance(await ws.recv(), bytes):
                        pass  # text deltas, until the first audio: the turn is being spoken
                await ws.send(json.dumps({"type": "user.text", "text": "x" * 8192}))
                with anyio.fail_after(15), contextlib.suppress(ConnectionClosed):
                    while True:  # what the turn sent before the close, then the close
                        await ws.recv()
            assert ws.close_code == 1009
        assert await _serves(tts_url)
    for service in (tts, agent):
        errors = [line for line in service.output().splitlines() if '"level": "error"' in line]
        assert errors == []
        assert "Traceback" not in service.output()


async def _serves(url: str) -> bool:
    """Whether a TTS WebSocket session still speaks."""
    async with connect(url) as ws:
        await ws.send(json.dumps({"type": "start"}))
        await ws.send(json.dumps({"type": "text", "text": "Still here."}))
        await ws.send(json.dumps({"type": "end"}))
        close = await _closed_with(ws)
    return close.code == 1000
