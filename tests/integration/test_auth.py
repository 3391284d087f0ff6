"""API keys on both services and their per-key rate limits, against real processes on loopback: the
keys come from the environment as the chart gives them (from a Secret), health endpoints stay open,
the agent presents its own key to the TTS, HTTP turns and WebSocket turns take tokens of their key, the
TTS's speech requests and stream sessions take tokens of theirs, a session named in the X-Session-ID
header keeps its history (the header the chart's Ingress hashes on), and vibevoice-smoke and
vibevoice-bench send a key from the environment or a file."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from httpx_sse import EventSource, ServerSentEvent
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from tests.support.fake_openai import FakeOpenAI
from tests.support.processes import SCRIPTS, Service, free_port, running
from tests.support.threaded_server import serve_in_thread

pytestmark = pytest.mark.integration
StartAgent = Callable[..., AbstractContextManager[Service]]

CLIENT_KEY = "client-key-1"
AGENT_KEY = "agent-internal-key"
TTS_KEYS = f"{CLIENT_KEY}\n{AGENT_KEY}"
SPEECH = {"model": "tts-1", "input": "Hello there.", "response_format": "pcm"}


def bearer(key: str) -> dict[str, str]:
    """The Authorization header for `key`."""
    return {"Authorization": f"Bearer {key}"}


def turn(
    agent: Service, body: dict[str, Any], headers: dict[str, str]
) -> tuple[httpx.Response, list[ServerSentEvent]]:
    """POST one turn; the response and, when it is 200, its events."""
    with httpx.stream(
        "POST", f"{agent.url}/v1/agent/turn", json=body, headers=headers, timeout=30
    ) as response:
        if response.status_code != 200:
            response.read()
            return response, []
        return response, list(EventSource(response).iter_sse())


@pytest.fixture(scope="module")
def keyed_tts() -> Iterator[Service]:
    """A sine TTS that accepts two keys, given one per line as a Secret's value would be."""
    port = free_port()
    env = {"VIBEVOICE_TTS_API_KEYS": TTS_KEYS}
    with running(["vibevoice-tts", "--engine", "sine", "--port", str(port)], port=port, env=env) as tts:
        yield tts


def test_tts_health_readiness_and_metrics_stay_open(keyed_tts: Service) -> None:
    for path in ("/health", "/ready", "/metrics"):
        assert httpx.get(keyed_tts.url + path).status_code == 200, path


@pytest.mark.parametrize(
    "headers", [{}, bearer("wrong"), {"Authorization": CLIENT_KEY}, {"Authorization": f"Basic {CLIENT_KEY}"}]
)
def test_tts_refuses_requests_without_an_accepted_key(keyed_tts: Service, headers: dict[str, str]) -> None:
    for method, path in (("POST", "/v1/audio/speech"), ("GET", "/v1/models"), ("GET", "/docs")):
        response = httpx.request(method, keyed_tts.url + path, json=SPEECH, headers=headers)
        assert response.status_code == 401, (path, response.text)
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["error"]["code"] == "invalid_api_key"


def test_tts_serves_each_accepted_key(keyed_tts: Service) -> None:
    for key in (CLIENT_KEY, AGENT_KEY):
        response = httpx.post(f"{keyed_tts.url}/v1/audio/speech", json=SPEECH, headers=bearer(key))
        assert response.status_code == 200
        assert len(response.content) > 4800
    assert CLIENT_KEY not in keyed_tts.output()


def test_tts_websocket_needs_a_key(keyed_tts: Service) -> None:
    url = keyed_tts.url.replace("http://", "ws://") + "/v1/audio/stream"

    async def refused() -> None:
        with pytest.raises(InvalidStatus) as refusal:
            async with connect(url):
                pass
        assert refusal.value.response.status_code == 401  # the handshake answered as HTTP is
        assert json.loads(refusal.value.response.body or b"{}")["error"]["code"] == "invalid_api_key"

    async def accepted() -> None:
        async with connect(url, additional_headers=bearer(CLIENT_KEY)) as ws:
            await ws.send('{"type": "start"}')
            with anyio.fail_after(10):
                assert '"started"' in str(await ws.recv())

    anyio.run(refused)
    anyio.run(accepted)


@pytest.fixture
def fake_llm() -> Iterator[tuple[FakeOpenAI, str]]:
    fake = FakeOpenAI()
    with serve_in_thread(fake.app()) as url:
        yield fake, url


@pytest.fixture
def keyed_agent(
    keyed_tts: Service, start_agent: StartAgent, fake_llm: tuple[FakeOpenAI, str]
) -> Iterator[Service]:
    """An agent with two client keys, a rate limit with a burst of 2 (and a rate too slow to refill
    during the test), its own key for the TTS and a fake OpenAI API that logs the messages it gets."""
    _, url = fake_llm
    env = {
        "VIBEVOICE_AGENT_API_KEYS": "alpha,beta",
        "VIBEVOICE_AGENT_TTS_API_KEY": AGENT_KEY,
        "VIBEVOICE_AGENT_RATE_LIMIT_PER_MINUTE": "1",
        "VIBEVOICE_AGENT_RATE_LIMIT_BURST": "2",
        "VIBEVOICE_AGENT_OPENAI_API_KEY": "sk-test-not-a-real-key",
    }
    flags = ("--llm", "openai", "--openai-base-url", f"{url}/v1")
    with start_agent(keyed_tts.url, *flags, env=env) as agent:
        yield agent


def test_agent_keys_rate_limit_and_session_header(
    keyed_agent: Service, fake_llm: tuple[FakeOpenAI, str]
) -> None:
    fake, _ = fake_llm
    assert httpx.get(f"{keyed_agent.url}/health").status_code == 200
    refused, _ = turn(keyed_agent, {"text": "Hi."}, {})
    assert refused.status_code == 401

    # The agent reaches the keyed TTS with its own key: the turn has audio and no error.
    session = {"X-Session-ID": "conversation-7"}
    first, events = turn(keyed_agent, {"text": "Say hello."}, {**bearer("alpha"), **session})
    assert first.status_code == 200
    names = [event.event for event in events]
    assert "audio" in names
    assert "error" not in names
    # The second turn of the same session (header only) carries the first turn's history.
    second, _ = turn(keyed_agent, {"text": "Again."}, {**bearer("alpha"), **session})
    assert second.status_code == 200
    assert fake.requests[-1]["messages"][1:] == [
        {"role": "user", "content": "Say hello."},
        {"role": "assistant", "content": fake.reply},
        {"role": "user", "content": "Again."},
    ]

    # alpha has spent its burst of two; beta has its own bucket.
    limited, _ = turn(keyed_agent, {"text": "Once more."}, bearer("alpha"))
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.json()["error"]["code"] == "rate_limit_exceeded"
    other, _ = turn(keyed_agent, {"text": "Hello."}, bearer("beta"))
    assert other.status_code == 200


async def next_message(ws: ClientConnection, kind: str) -> dict[str, Any]:
    """The next JSON message of type `kind` (binary audio and other messages skipped)."""
    with anyio.fail_after(20):
        while True:
            frame = await ws.recv()
            if isinstance(frame, str) and (message := json.loads(frame))["type"] == kind:
                return message


def test_agent_websocket_needs_a_key_and_each_turn_takes_a_token(keyed_agent: Service) -> None:
    url = keyed_agent.url.replace("http://", "ws://") + "/v1/agent/ws"
    turn_message = json.dumps({"type": "user.text", "text": "Hello there."})

    async def conversation() -> None:
        with pytest.raises(InvalidStatus) as refusal:
            async with connect(url):
                pass
        assert refusal.value.response.status_code == 401
        for _ in range(3):  # connecting takes no token
            async with connect(url, additional_headers=bearer("alpha")):
                pass
        async with connect(url, additional_headers=bearer("alpha")) as ws:
            for _ in range(2):  # the burst
                await ws.send(turn_message)
                done = await next_message(ws, "response.done")
                assert done["metrics"]["turn_ttfa_ms"] > 0
            await ws.send(turn_message)
            error = await next_message(ws, "error")
            assert error["code"] == "rate_limit_exceeded"
            # the socket stays open: other messages still reach the agent
            await ws.send(json.dumps({"type": "no.such.message"}))
            assert (await next_message(ws, "error"))["code"] == "invalid_message"

    anyio.run(conversation)


def test_agent_with_a_key_the_tts_refuses_reports_it(keyed_tts: Service, start_agent: StartAgent) -> None:
    env = {"VIBEVOICE_AGENT_TTS_API_KEY": "not-accepted"}
    with start_agent(keyed_tts.url, "--llm", "scripted", env=env) as agent:
        response, events = turn(agent, {"text": "Hello."}, {})
    assert response.status_code == 200
    error = next(event.json() for event in events if event.event == "error")
    assert "401" in error["message"]


def test_tts_rate_limit_is_per_key_with_retry_after_and_openai_errors() -> None:
    port = free_port()
    env = {
        "VIBEVOICE_TTS_API_KEYS": "alpha,beta",
        "VIBEVOICE_TTS_RATE_LIMIT_PER_KEY_RPS": "0.001",  # a token every 1000 s: none refills here
        "VIBEVOICE_TTS_RATE_LIMIT_BURST": "2",
    }
    command = ["vibevoice-tts", "--engine", "sine", "--port", str(port)]
    with running(command, port=port, env=env) as tts:
        speech = f"{tts.url}/v1/audio/speech"
        assert [httpx.post(speech, json=SPEECH, headers=bearer("alpha")).status_code for _ in range(2)] == [
            200,
            200,
        ]
        limited = httpx.post(speech, json=SPEECH, headers=bearer("alpha"))
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.json()["error"] == {
            "message": limited.json()["error"]["message"],
            "type": "rate_limit_error",
            "code": "rate_limit_exceeded",
            "param": None,
        }
        assert httpx.get(f"{tts.url}/v1/models", headers=bearer("alpha")).status_code == 200  # not limited

        async def sessions() -> None:  # a stream session takes a token of its key as it opens
            url = tts.url.replace("http://", "ws://") + "/v1/audio/stream"
            async with (
                connect(url, additional_headers=bearer("beta")),
                connect(url, additional_headers=bearer("beta")),
            ):
                pass
            with pytest.raises(InvalidStatus) as refusal:
                async with connect(url, additional_headers=bearer("beta")):
                    pass
            assert refusal.value.response.status_code == 429
            assert refusal.value.response.headers["Retry-After"]

        anyio.run(sessions)


@pytest.mark.parametrize("source", ["environment", "file"])
def test_smoke_and_bench_send_a_key_from_the_environment_or_a_file(
    keyed_tts: Service, tmp_path: Path, source: str
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "VIBEVOICE_API_KEY"}
    flags: list[str] = []
    if source == "file":
        key_file = tmp_path / "key"
        key_file.write_text(f"{CLIENT_KEY}\n")
        flags = ["--api-key-file", str(key_file)]
    else:
        env["VIBEVOICE_API_KEY"] = CLIENT_KEY
    smoke = [str(SCRIPTS / "vibevoice-smoke"), "--tts-url", keyed_tts.url, "--wait", "10", *flags]
    bench = [str(SCRIPTS / "vibevoice-bench"), "run", "--target", "tts", "--url", keyed_tts.url]
    bench += ["--requests", "2", "--corpus", "short", "--out", str(tmp_path / "bench"), *flags]
    for command in (smoke, bench):
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False, env=env)
        assert result.returncode == 0, result.stdout + result.stderr
        assert CLIENT_KEY not in result.stdout + result.stderr
    results = json.loads((tmp_path / "bench" / "results.json").read_text())
    assert results["error_rate"] == 0.0
    keyless = subprocess.run(
        smoke[:5],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**env, "VIBEVOICE_API_KEY": ""},
    )
    assert keyless.returncode == 1
    assert "answered 401" in keyless.stdout
