"""The agent service as a real process against a real TTS process (and a fake LLM API)."""

from __future__ import annotations

import base64
import json
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import anyio
import httpx
import pytest
from httpx_sse import EventSource, ServerSentEvent
from websockets.asyncio.client import connect

from tests.integration.conftest import StartTTS, espeak_pids
from tests.support.fake_openai import FakeOpenAI
from tests.support.processes import Service, free_port, running
from tests.support.threaded_server import serve_in_thread
from vibevoice_platform.agent.llm.scripted import scripted_reply
from vibevoice_platform.audio import duration_seconds, rms_dbfs

pytestmark = pytest.mark.integration
StartAgent = Callable[..., AbstractContextManager[Service]]
# The agent readiness probe's timeout in the chart (agent.probes.readiness.timeoutSeconds).
PROBE_TIMEOUT_S = 2.0
QUESTION = "What is the weather like on the coast today? I would like to go sailing."


def turn_events(agent: Service, body: dict[str, Any], timeout: float = 30) -> list[ServerSentEvent]:
    with httpx.stream("POST", f"{agent.url}/v1/agent/turn", json=body, timeout=timeout) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        return list(EventSource(response).iter_sse())


@pytest.fixture
def espeak_agent(tts_espeak: Service, start_agent: StartAgent) -> Iterator[Service]:
    with start_agent(tts_espeak.url, "--llm", "scripted") as agent:
        yield agent


def test_sse_turn_streams_text_then_ordered_audio_then_metrics(espeak_agent: Service) -> None:
    events = turn_events(espeak_agent, {"text": QUESTION})
    names = [e.event for e in events]
    assert names[-2:] == ["metrics", "done"]
    assert "error" not in names
    text = "".join(e.json()["delta"] for e in events if e.event == "text")
    assert text == scripted_reply(QUESTION)
    audio = [e.json() for e in events if e.event == "audio"]
    assert [a["seq"] for a in audio] == list(range(len(audio)))
    pcm = b"".join(base64.b64decode(a["audio"]) for a in audio)
    assert duration_seconds(len(pcm)) > 3.0
    assert rms_dbfs(pcm) > -35
    metrics = events[-2].json()
    assert set(metrics) == {"llm_ttft_ms", "tts_ttfb_ms", "turn_ttfa_ms", "turn_e2e_ms"}
    assert 0 < metrics["turn_ttfa_ms"] <= metrics["turn_e2e_ms"]


def test_session_history_and_request_validation(espeak_agent: Service) -> None:
    for body, status in [
        ({"text": "   "}, 422),
        ({"text": "hi", "session_id": "bad id!"}, 422),
        ({"text": "hi", "extra": 1}, 422),
        ({}, 422),
    ]:
        response = httpx.post(f"{espeak_agent.url}/v1/agent/turn", json=body)
        assert response.status_code == status
        assert response.json()["error"]["type"] == "invalid_request_error"


def test_ws_turn_and_interrupt_stop_llm_and_tts_at_once(tts_espeak: Service, start_agent: StartAgent) -> None:
    long_question = "Tell me a long story about the sea. " * 30

    async def conversation(agent: Service) -> None:
        url = agent.url.replace("http://", "ws://") + "/v1/agent/ws"
        async with connect(url) as ws:
            await ws.send(json.dumps({"type": "session.update", "voice": "onyx"}))
            await ws.send(json.dumps({"type": "user.text", "text": "Hello there. How are you?"}))
            deltas, audio = [], 0
            with anyio.fail_after(20):
                while True:
                    frame = await ws.recv()
                    if isinstance(frame, bytes):
                        audio += len(frame)
                        continue
                    message = json.loads(frame)
                    if message["type"] == "response.text.delta":
                        deltas.append(message["delta"])
                    elif message["type"] == "response.done":
                        break
            assert "".join(deltas) == scripted_reply("Hello there. How are you?")
            assert audio > 48_000
            assert message["metrics"]["turn_ttfa_ms"] > 0

            await ws.send(json.dumps({"type": "user.text", "text": long_question}))
            with anyio.fail_after(20):
                while not isinstance(await ws.recv(), bytes):
                    pass
            await ws.send(json.dumps({"type": "interrupt"}))
            with anyio.fail_after(5):
                while True:
                    frame = await ws.recv()
                    if isinstance(frame, str) and json.loads(frame)["type"] == "response.interrupted":
                        break
            done = json.loads(await ws.recv())  # done follows at once, no audio between
            assert done == {"type": "response.done", "interrupted": True, "metrics": None}
            with anyio.move_on_after(0.5):  # nothing of the interrupted response may follow
                late = await ws.recv()
                pytest.fail(f"received after the interrupt: {late!r:.80}")

    with start_agent(tts_espeak.url, "--llm", "scripted", "--scripted-token-delay-ms", "20") as agent:
        anyio.run(conversation, agent)
        assert not espeak_pids(tts_espeak, speaking=True)  # the interrupted synthesis was killed
        metrics = httpx.get(f"{agent.url}/metrics").text
        assert 'vibevoice_agent_interruptions_total{transport="ws"} 1.0' in metrics
        assert 'vibevoice_agent_turns_total{status="ok",transport="ws"} 1.0' in metrics


def test_client_hang_up_cancels_the_turn(start_tts: StartTTS, start_agent: StartAgent) -> None:
    with (
        start_tts("--engine", "sine", "--sine-pace", "1") as tts,
        start_agent(tts.url, "--llm", "scripted", "--scripted-token-delay-ms", "10") as agent,
    ):
        with httpx.stream("POST", f"{agent.url}/v1/agent/turn", json={"text": QUESTION * 3}, timeout=10) as r:
            for line in r.iter_lines():
                if line.startswith("event: audio"):
                    break
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            metrics = httpx.get(f"{agent.url}/metrics").text
            if 'vibevoice_agent_turns_total{status="interrupted",transport="sse"} 1.0' in metrics:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the turn was not cancelled when the client left")
        assert "vibevoice_agent_active_turns 0.0" in metrics
        tts_metrics = httpx.get(f"{tts.url}/metrics").text
        assert "vibevoice_tts_active_streams 0.0" in tts_metrics


def test_a_tts_outage_is_an_error_event_per_turn_never_an_unready_agent() -> None:
    """The agent's readiness is its own: with its TTS down it stays ready (so it keeps its place in
    its Service, and a client gets an error event, not a refused connection), the TTS's state in the
    body; when the TTS comes back the body says so and turns speak again, by themselves."""
    tts_port = free_port()
    agent_port = free_port()
    command = ["vibevoice-agent", "--port", str(agent_port), "--tts-url", f"http://127.0.0.1:{tts_port}"]
    with running(command, port=agent_port, ready_path="/ready") as agent:
        ready = httpx.get(f"{agent.url}/ready")
        assert ready.status_code == 200
        assert ready.json()["status"] == "ready"
        assert ready.json()["checks"]["tts"]["ok"] is False
        assert "unreachable" in ready.json()["checks"]["tts"]["detail"]
        for _ in range(3):  # every turn, not only the first
            events = turn_events(agent, {"text": "Are you there?"})
            assert [e.event for e in events][-3:] == ["error", "metrics", "done"]
            error = next(e.json() for e in events if e.event == "error")
            assert error["code"] == "tts_unavailable"
            assert "unreachable" in error["message"]
        with running(["vibevoice-tts", "--engine", "sine", "--port", str(tts_port)], port=tts_port):
            ready = httpx.get(f"{agent.url}/ready")
            assert ready.status_code == 200
            assert ready.json()["checks"]["tts"]["ok"] is True
            assert "error" not in [e.event for e in turn_events(agent, {"text": "Now?"})]
        assert httpx.get(f"{agent.url}/ready").status_code == 200  # down again: still ready


def test_a_tts_that_never_answers_leaves_the_agents_readiness_prompt(start_agent: StartAgent) -> None:
    """The agent's /ready answers within a readiness probe's timeout (the chart's: 2 s) whatever the TTS
    does. On a cluster, with the TTS scaled to 0 some connections to it hung, the agent's /ready waited 2 s
    for its TTS check, its probe timed out twice and the agent left its Service."""
    with socket.create_server(("127.0.0.1", 0)) as hung:  # listens, never accepts: connects, no answer
        tts_url = f"http://127.0.0.1:{hung.getsockname()[1]}"
        with start_agent(tts_url, "--llm", "scripted", ready_path="/health") as agent:
            for _ in range(3):
                ready = httpx.get(f"{agent.url}/ready", timeout=PROBE_TIMEOUT_S)
                assert ready.status_code == 200
                assert ready.json()["checks"]["tts"]["ok"] is False
                assert "gave no answer within" in ready.json()["checks"]["tts"]["detail"]


def test_a_tts_up_but_not_ready_is_unavailable_to_a_turn(start_agent: StartAgent) -> None:
    """A TTS that answers 503 (loading, or failed to load and kept up) is as unavailable to a turn as
    one that is down (`tts_unavailable`, as the README says), not a TTS error."""
    port = free_port()
    broken = ["--engine", "espeak", "--espeak-binary", "/nonexistent/espeak-ng", "--stay-up-unready"]
    with (
        running(["vibevoice-tts", "--port", str(port), *broken], port=port, ready_path="/v1/models") as tts,
        start_agent(tts.url, "--llm", "scripted") as agent,
    ):
        assert httpx.get(f"{tts.url}/ready").status_code == 503
        events = turn_events(agent, {"text": "Are you there?"})
        assert [e.event for e in events][-3:] == ["error", "metrics", "done"]
        error = next(e.json() for e in events if e.event == "error")
        assert error["code"] == "tts_unavailable"
        assert "answered 503" in error["message"]


@pytest.fixture
def fake_llm() -> Iterator[tuple[FakeOpenAI, str]]:
    fake = FakeOpenAI()
    with serve_in_thread(fake.app()) as url:
        yield fake, url


def test_openai_backend_streams_from_an_openai_compatible_api(
    sine_tts: Service, start_agent: StartAgent, fake_llm: tuple[FakeOpenAI, str]
) -> None:
    fake, url = fake_llm
    env = {"VIBEVOICE_AGENT_OPENAI_API_KEY": "sk-test-not-a-real-key"}
    flags = ("--llm", "openai", "--openai-base-url", f"{url}/v1", "--openai-model", "fake-mini")
    with start_agent(sine_tts.url, *flags, env=env) as agent:
        first = turn_events(agent, {"text": "Say hello.", "session_id": "s1", "system_prompt": "Be terse."})
        text = "".join(e.json()["delta"] for e in first if e.event == "text")
        assert text == fake.reply
        assert any(e.event == "audio" for e in first)
        request = fake.requests[-1]
        assert request["model"] == "fake-mini"
        assert request["stream"] is True
        assert request["messages"] == [
            {"role": "system", "content": "Be terse."},
            {"role": "user", "content": "Say hello."},
        ]
        assert fake.headers[-1]["authorization"] == "Bearer sk-test-not-a-real-key"
        turn_events(agent, {"text": "Again.", "session_id": "s1"})
        assert fake.requests[-1]["messages"][1:] == [
            {"role": "user", "content": "Say hello."},
            {"role": "assistant", "content": fake.reply},
            {"role": "user", "content": "Again."},
        ]
        assert "sk-test-not-a-real-key" not in agent.output()


def test_openai_backend_errors_and_timeouts_end_the_turn_cleanly(
    sine_tts: Service, start_agent: StartAgent, fake_llm: tuple[FakeOpenAI, str]
) -> None:
    fake, url = fake_llm
    flags = ("--llm", "openai", "--openai-base-url", f"{url}/v1", "--llm-timeout-s", "0.5")
    env = {"VIBEVOICE_AGENT_OPENAI_API_KEY": "sk-test-not-a-real-key"}
    with start_agent(sine_tts.url, *flags, env=env) as agent:
        fake.fail_status = 500
        events = turn_events(agent, {"text": "hi"})
        error = next(e.json() for e in events if e.event == "error")
        assert error == {"code": "llm_error", "message": "the LLM API answered 500: the fake model is down"}
        assert [e.event for e in events][-1] == "done"
        fake.fail_status, fake.stall_s = None, 30.0
        started = time.monotonic()
        events = turn_events(agent, {"text": "hi"})
        assert time.monotonic() - started < 30.0 / 2  # the 0.5 s timeout ended the turn, not the LLM
        assert next(e.json() for e in events if e.event == "error")["code"] == "llm_timeout"


def test_too_many_turns_is_429(sine_tts: Service, start_agent: StartAgent) -> None:
    flags = ("--llm", "scripted", "--scripted-token-delay-ms", "200", "--max-turns", "1")
    with (
        start_agent(sine_tts.url, *flags) as agent,
        httpx.stream("POST", f"{agent.url}/v1/agent/turn", json={"text": QUESTION}, timeout=10) as first,
    ):
        lines = first.iter_lines()  # keep a reference: a dropped iterator closes the stream
        assert next(lines) == "event: text"
        refused = httpx.post(f"{agent.url}/v1/agent/turn", json={"text": "me too"})
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "1"
