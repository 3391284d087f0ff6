"""Ctrl-C (SIGINT) stops a service as SIGTERM does: drained, no traceback; a second one stops it at once.
While draining, each response closes its connection."""

from __future__ import annotations

import http.client
import signal
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager

import httpx
import pytest

from tests.integration.conftest import StartTTS
from tests.support.processes import Service, wait_for

pytestmark = pytest.mark.integration


def _assert_clean_exit(service: Service) -> None:
    assert service.process.wait(timeout=20) == 0
    output = service.output()
    assert "Traceback" not in output
    assert "Exception in ASGI application" not in output
    assert all(line.startswith("{") for line in output.splitlines())  # only JSON log lines


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_idle_service_stops_cleanly_on_ctrl_c_as_on_sigterm(
    start_tts: StartTTS, sig: signal.Signals
) -> None:
    with start_tts("--engine", "sine", "--drain-s", "0") as tts:
        tts.process.send_signal(sig)
        _assert_clean_exit(tts)


def test_the_agent_stops_cleanly_on_ctrl_c(
    sine_tts: Service, start_agent: Callable[..., AbstractContextManager[Service]]
) -> None:
    with start_agent(sine_tts.url, "--drain-s", "0") as agent:
        agent.process.send_signal(signal.SIGINT)
        _assert_clean_exit(agent)


def test_a_second_ctrl_c_cuts_streams_in_flight_and_exits(start_tts: StartTTS) -> None:
    with start_tts("--engine", "sine", "--sine-pace", "1", "--drain-s", "0", "--grace-s", "600") as tts:
        outcome: list[str] = []
        body = {"model": "tts-1", "input": "y" * 600, "response_format": "pcm"}  # 30 s in real time

        def stream() -> None:
            try:
                with httpx.stream("POST", f"{tts.url}/v1/audio/speech", json=body, timeout=60) as response:
                    for _ in response.iter_raw():
                        pass
                outcome.append("complete")
            except httpx.HTTPError as exc:
                outcome.append(type(exc).__name__)

        reader = threading.Thread(target=stream)
        reader.start()
        assert wait_for(lambda: "vibevoice_tts_active_streams 1.0" in httpx.get(f"{tts.url}/metrics").text)
        tts.process.send_signal(signal.SIGINT)  # first: stop accepting, wait up to --grace-s for the stream
        assert wait_for(lambda: "Waiting for connections to close" in tts.output())
        assert tts.process.poll() is None
        tts.process.send_signal(signal.SIGINT)  # second: now
        _assert_clean_exit(tts)
        reader.join(timeout=20)
        assert outcome == ["RemoteProtocolError"]  # the body was cut, not completed
        assert "second signal: stopping now, 1 connection(s) cut" in tts.output()
        assert '"msg": "synthesis cancelled"' in tts.output()  # the stream's cleanup ran


def _get(conn: http.client.HTTPConnection, path: str) -> http.client.HTTPResponse:
    conn.request("GET", path)
    response = conn.getresponse()
    response.read()
    return response


@pytest.mark.parametrize("component", ["tts", "agent"])
def test_while_draining_every_response_closes_its_connection(
    component: str,
    start_tts: StartTTS,
    start_agent: Callable[..., AbstractContextManager[Service]],
    sine_tts: Service,
) -> None:
    """A client that keeps connections open moves off a draining pod: on a cluster, a kept-alive turn
    sent just as the old pod closed its idle connections was lost on every rolling upgrade (Broken
    pipe), while clients opening a connection per turn lost none."""
    flags = ("--drain-s", "600")
    starting = (
        start_tts("--engine", "sine", *flags) if component == "tts" else start_agent(sine_tts.url, *flags)
    )
    with starting as service:
        conn = http.client.HTTPConnection("127.0.0.1", service.port, timeout=10)
        before = _get(conn, "/health")
        assert (before.status, before.getheader("connection"), before.will_close) == (200, None, False)
        service.process.send_signal(signal.SIGTERM)
        assert wait_for(lambda: httpx.get(f"{service.url}/ready").status_code == 503)
        during = _get(conn, "/health")  # the same connection, kept alive from before the signal
        assert (during.status, during.getheader("connection"), during.will_close) == (200, "close", True)
        service.process.send_signal(signal.SIGTERM)
        assert service.process.wait(timeout=20) == 0
