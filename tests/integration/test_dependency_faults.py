"""Faults in what the services depend on, with real processes on loopback.

The LLM (a fake OpenAI-compatible server) answers 500, stalls in the middle of its stream, or sends
garbage: each turn ends with an `error` event then `done`, its TTS request is closed, and the next
turn works. The TTS dies in the middle of a turn: the turn ends with an error (the agent stays ready),
and once the TTS is back the agent serves turns again, by itself. A kept-alive connection to the TTS
closed under a request (a TTS pod stopping) costs the turn nothing: the request goes again on a new
one. (A TTS that refuses connections when the agent starts is
`test_agent.py::test_a_tts_outage_is_an_error_event_per_turn_never_an_unready_agent`.)
An engine that cannot load ends `vibevoice-tts` with status 1 and the reason, unless
`--stay-up-unready` keeps it up, not ready.
"""

from __future__ import annotations

import os
import select
import socket
import socketserver
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import httpx
import pytest
from httpx_sse import EventSource, ServerSentEvent

from tests.support.fake_openai import FakeOpenAI
from tests.support.processes import SCRIPTS, Service, free_port, running, wait_for
from tests.support.threaded_server import serve_in_thread

pytestmark = pytest.mark.integration
StartAgent = Callable[..., AbstractContextManager[Service]]
LONG_SENTENCE = (
    "This first sentence is long enough to keep the speech service busy for a few seconds of audio."
)
REPLY = f"{LONG_SENTENCE} And a second sentence follows it."
OPENAI_KEY = {"VIBEVOICE_AGENT_OPENAI_API_KEY": "sk-test-not-a-real-key"}


def _turn(agent: Service, text: str = "Hello?") -> list[ServerSentEvent]:
    with httpx.stream("POST", f"{agent.url}/v1/agent/turn", json={"text": text}, timeout=30) as response:
        assert response.status_code == 200
        return list(EventSource(response).iter_sse())


def _tts_idle(tts: Service) -> bool:
    return "vibevoice_tts_active_streams 0.0" in httpx.get(f"{tts.url}/metrics").text


@pytest.fixture
def fake_llm() -> Iterator[tuple[FakeOpenAI, str]]:
    fake = FakeOpenAI(reply=REPLY)
    with serve_in_thread(fake.app()) as url:
        yield fake, url


@pytest.mark.parametrize(
    ("fault", "code"),
    [("answers 500", "llm_error"), ("stalls mid-stream", "llm_timeout"), ("sends garbage", "llm_error")],
)
def test_llm_faults_end_the_turn_close_the_tts_request_and_the_next_turn_works(
    fault: str, code: str, start_tts: Callable[..., AbstractContextManager[Service]],
    start_agent: StartAgent, fake_llm: tuple[FakeOpenAI, str],
) -> None:  # fmt: skip
    fake, url = fake_llm
    flags = ("--llm", "openai", "--openai-base-url", f"{url}/v1", "--llm-timeout-s", "1")
    with (
        start_tts("--engine", "sine", "--sine-pace", "1") as tts,
        start_agent(tts.url, *flags, env=OPENAI_KEY) as agent,
    ):
        if fault == "answers 500":
            fake.fail_status = 500
        elif fault == "stalls mid-stream":  # after the first sentence and a word: it is being spoken
            fake.stall_after_words, fake.stall_s = len(LONG_SENTENCE.split()) + 1, 30.0
        else:
            fake.garbage = True
        events = _turn(agent)
        names = [e.event for e in events]
        assert names[-3:] == ["error", "metrics", "done"]
        assert events[-3].json()["code"] == code
        assert wait_for(lambda: _tts_idle(tts)), "the TTS request outlived the turn"
        if fault == "stalls mid-stream":
            assert "audio" in names  # the first sentence was being spoken when the LLM stalled...
            metrics = httpx.get(f"{tts.url}/metrics").text
            assert 'status="cancelled"' in metrics  # ...and its TTS request was closed, not finished
        fake.fail_status, fake.stall_after_words, fake.stall_s, fake.garbage = None, 0, 0.0, False
        names = [e.event for e in _turn(agent)]
        assert "error" not in names
        assert "audio" in names


def test_tts_dying_mid_turn_is_an_error_and_the_agent_recovers_when_it_is_back(
    start_agent: StartAgent,
) -> None:
    port = free_port()
    tts_command = ["vibevoice-tts", "--engine", "sine", "--sine-pace", "1", "--port", str(port)]
    with running(tts_command, port=port) as tts, start_agent(tts.url, "--llm", "scripted") as agent:
        events: list[ServerSentEvent] = []
        body = {"text": "Tell me a long story about the sea and the ships on it. " * 4}
        with httpx.stream("POST", f"{agent.url}/v1/agent/turn", json=body, timeout=30) as response:
            for event in EventSource(response).iter_sse():
                events.append(event)
                if event.event == "audio" and tts.process.poll() is None:
                    tts.process.kill()  # the TTS dies in the middle of the turn
        names = [e.event for e in events]
        assert names[-3:] == ["error", "metrics", "done"]
        assert events[-3].json()["code"] == "tts_unavailable"
        ready = httpx.get(f"{agent.url}/ready")  # the agent stays ready, its TTS reported down
        assert (ready.status_code, ready.json()["checks"]["tts"]["ok"]) == (200, False)
        with running(tts_command, port=port):  # back on the same address
            names = [e.event for e in _turn(agent)]
            assert "error" not in names
            assert "audio" in names


@contextmanager
def closing_kept_alive_connections(upstream: str) -> Iterator[tuple[str, list[int]]]:
    """A TCP proxy to `upstream` that closes a client's connection when the client sends another request
    on it (bytes after an answer began), as a TTS pod stopping closes its idle kept-alive connections
    while a pooled request is on its way. Yields its URL and a one-item list counting connections."""
    host, port = upstream.removeprefix("http://").split(":")
    connections = [0]

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            connections[0] += 1
            client: socket.socket = self.request
            answered = False
            with socket.create_connection((host, int(port))) as server:
                while True:
                    readable, _, _ = select.select([client, server], [], [])
                    if client in readable:
                        data = client.recv(65536)
                        if not data or answered:
                            return  # the next request on a kept-alive connection: closed under it
                        server.sendall(data)
                    if server in readable:
                        data = server.recv(65536)
                        if not data:
                            return
                        answered = True
                        client.sendall(data)

    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler) as proxy:
        proxy.daemon_threads = True
        threading.Thread(target=proxy.serve_forever, daemon=True).start()
        try:
            yield f"http://127.0.0.1:{proxy.server_address[1]}", connections
        finally:
            proxy.shutdown()


def test_a_kept_alive_tts_connection_closed_under_a_request_costs_the_turn_nothing(
    start_agent: StartAgent, start_tts: Callable[..., AbstractContextManager[Service]]
) -> None:
    """On a cluster, single-pod TTS upgrades gave turns `tts_unavailable` (ReadError) while the TTS itself
    never refused a request: the agent's pooled connection to the old pod was closed as a sentence went
    out on it. Here every connection takes one request only, and every sentence still speaks."""
    with (
        start_tts("--engine", "sine") as tts,
        closing_kept_alive_connections(tts.url) as (url, connections),
        start_agent(url, "--llm", "scripted") as agent,
    ):
        for _ in range(3):
            events = _turn(agent, "First sentence. Second sentence. Third one.")
            names = [e.event for e in events]
            assert "error" not in names, [e.data for e in events if e.event == "error"]
            assert names.count("audio") >= 3
        assert connections[0] >= 9, "the requests did not go over connections the proxy closed"


def _exits(command: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPTS / command[0]), *command[1:], "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
    )


def test_an_engine_that_cannot_load_exits_1_with_the_reason(tmp_path: Path) -> None:
    missing = _exits(["vibevoice-tts", "--engine", "espeak", "--espeak-binary", "/nonexistent/espeak-ng"])
    assert missing.returncode == 1
    assert (
        "exiting with status 1, the engine cannot serve: /nonexistent/espeak-ng not found" in missing.stderr
    )
    broken = tmp_path / "torch"  # a torch that cannot be imported, ahead of the real one
    broken.mkdir()
    (broken / "__init__.py").write_text("raise ImportError('this torch is broken')\n")
    pythonpath = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))
    unimportable = _exits(
        ["vibevoice-tts", "--engine", "vibevoice", "--model", "tiny-random"], {"PYTHONPATH": pythonpath}
    )
    assert unimportable.returncode == 1
    assert "torch cannot be imported (this torch is broken)" in unimportable.stderr
    assert "Traceback" not in unimportable.stderr
    nowhere = _exits(["vibevoice-tts", "--engine", "vibevoice", "--model", "/nonexistent"])
    assert nowhere.returncode == 1
    assert "--model /nonexistent: no such folder" in nowhere.stderr  # not the hub's repo-id message


def test_a_load_that_makes_no_progress_fails_liveness(tmp_path: Path) -> None:
    """--load-stall-s: while the engine loads, /health turns 503 once the load has made no progress
    for that long, so a liveness probe restarts the process; without it a hung load stays alive.
    The load here is espeak-ng's, with an espeak-ng that never answers `--version`."""
    hung = tmp_path / "espeak-ng"
    hung.write_text("#!/bin/sh\nexec sleep 600\n")
    hung.chmod(0o755)
    command = ["vibevoice-tts", "--engine", "espeak", "--espeak-binary", str(hung)]
    watched_port, unwatched_port = free_port(), free_port()
    with (
        running(
            [*command, "--port", str(unwatched_port)], port=unwatched_port, ready_path="/v1/models"
        ) as unwatched,
        running(
            [*command, "--load-stall-s", "1", "--port", str(watched_port)],
            port=watched_port,
            ready_path="/v1/models",
        ) as watched,
    ):
        assert wait_for(lambda: httpx.get(f"{watched.url}/health").status_code == 503)
        health = httpx.get(f"{watched.url}/health").json()
        assert health["status"] == "stalled"
        assert "no progress for" in health["detail"]
        assert "(--load-stall-s 1); its last step: the load started" in health["detail"]
        assert httpx.get(f"{watched.url}/ready").json()["status"] == "loading"
        assert httpx.get(f"{unwatched.url}/health").status_code == 200  # as hung, for as long: still alive
        assert httpx.get(f"{unwatched.url}/ready").json()["status"] == "loading"
    assert watched.output().count("the engine's load has made no progress") == 1  # logged once


def test_stay_up_unready_keeps_serving_not_ready_with_the_reason() -> None:
    port = free_port()
    command = ["vibevoice-tts", "--engine", "espeak", "--espeak-binary", "/nonexistent/espeak-ng"]
    with running(
        [*command, "--stay-up-unready", "--port", str(port)], port=port, ready_path="/v1/models"
    ) as tts:
        assert wait_for(lambda: httpx.get(f"{tts.url}/health").status_code == 503)
        ready = httpx.get(f"{tts.url}/ready")
        assert ready.status_code == 503
        assert ready.json()["status"] == "failed"
        assert "/nonexistent/espeak-ng not found" in ready.json()["detail"]
        assert tts.process.poll() is None
