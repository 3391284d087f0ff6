"""`vibevoice-smoke` as a user runs it: started before the services listen, it waits for them."""

from __future__ import annotations

import subprocess

import pytest

from tests.support.processes import SCRIPTS, free_port, running

pytestmark = pytest.mark.integration
SMOKE = [str(SCRIPTS / "vibevoice-smoke")]


def test_smoke_started_before_the_services_waits_for_them() -> None:
    tts_port, agent_port = free_port(), free_port()
    tts_url, agent_url = f"http://127.0.0.1:{tts_port}", f"http://127.0.0.1:{agent_port}"
    with subprocess.Popen(
        [*SMOKE, "--tts-url", tts_url, "--agent-url", agent_url, "--wait", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as smoke:
        tts_command = ["vibevoice-tts", "--engine", "sine", "--port", str(tts_port)]
        agent_command = ["vibevoice-agent", "--port", str(agent_port), "--tts-url", tts_url]
        with running(tts_command, port=tts_port), running(agent_command, port=agent_port):
            output, _ = smoke.communicate(timeout=90)
    assert smoke.returncode == 0, output
    assert "Connection refused" not in output  # a service not yet listening is waited for, not a failure
    assert output.splitlines()[-1] == "smoke test passed"


def test_smoke_against_nothing_fails_with_the_reason_after_its_wait() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = subprocess.run(
        [*SMOKE, "--tts-url", url, "--wait", "0.5"], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 1
    assert result.stdout.startswith(f"FAIL tts health: {url}/health did not answer 200 within --wait 0.5 s")
    assert "ConnectError" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
