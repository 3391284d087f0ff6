"""Ctrl-C (SIGINT) stops a service as SIGTERM does: drained, no traceback; a second one stops it at once."""

from __future__ import annotations

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
