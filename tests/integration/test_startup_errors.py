"""Start-up errors as a user meets them: one line naming the flag and its variable (no usage block, no
traceback), exit 2 for a bad setting and 1 for a port in use; and an agent that cannot work (no LLM
key) says so on /ready and in each turn."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Callable
from contextlib import AbstractContextManager

import httpx
import pytest
from httpx_sse import EventSource

from tests.support.processes import SCRIPTS, Service

pytestmark = pytest.mark.integration


def _fails_to_start(command: list[str], env: dict[str, str] | None = None, status: int = 2) -> str:
    """Run a command that must refuse to start: exit `status`, one line on stderr (no usage block, no
    traceback), nothing on stdout; that line."""
    result = subprocess.run(
        [str(SCRIPTS / command[0]), *command[1:]],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
    )
    assert result.returncode == status, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert result.stdout == ""
    return lines[0]


@pytest.mark.parametrize(
    ("command", "env", "expected"),
    [
        (
            ["vibevoice-tts", "--engine", "vibevoice"],
            None,
            "vibevoice-tts: error: --engine vibevoice needs --model (env VIBEVOICE_TTS_MODEL)",
        ),
        (
            ["vibevoice-tts"],
            {"VIBEVOICE_TTS_PORT": "eighty"},
            "vibevoice-tts: error: VIBEVOICE_TTS_PORT in the environment (flag --port): Input should be",
        ),
        (
            ["vibevoice-tts", "--port", "eighty"],
            None,
            "vibevoice-tts: error: --port (env VIBEVOICE_TTS_PORT): Input should be",
        ),
        (
            ["vibevoice-agent"],
            {"VIBEVOICE_AGENT_MAX_TURNS": "0"},
            "vibevoice-agent: error: VIBEVOICE_AGENT_MAX_TURNS in the environment (flag --max-turns)",
        ),
        (
            ["vibevoice-agent", "--tts-url", "127.0.0.1:8000"],
            None,
            "vibevoice-agent: error: --tts-url (env VIBEVOICE_AGENT_TTS_URL): '127.0.0.1:8000' is not an "
            "http:// or https:// URL with a host; did you mean http://127.0.0.1:8000?",
        ),
        (
            ["vibevoice-agent"],
            {"VIBEVOICE_AGENT_OPENAI_BASE_URL": "localhost:11434/v1"},
            "vibevoice-agent: error: VIBEVOICE_AGENT_OPENAI_BASE_URL in the environment",
        ),
        (["vibevoice-tts", "--engine", "festival"], None, "vibevoice-tts: error: argument --engine: invalid"),
        (
            ["vibevoice-smoke", "--tts-url", "localhost:8000"],
            None,
            "vibevoice-smoke: error: argument --tts-url: 'localhost:8000' is not an http:// or https:// URL",
        ),
        (
            ["vibevoice-smoke", "--tts-url", "http://localhost:8000", "--api-key-file", "/nonexistent"],
            None,
            "vibevoice-smoke: error: --api-key-file /nonexistent: No such file or directory",
        ),
        (
            ["vibevoice-bench", "run", "--target", "tts", "--url", "localhost:8000", "--out", "/tmp/x"],
            None,
            "vibevoice-bench run: error: --url: 'localhost:8000' is not an http:// or https:// URL",
        ),
    ],
)
def test_a_bad_setting_is_one_line_naming_flag_and_variable(
    command: list[str], env: dict[str, str] | None, expected: str
) -> None:
    assert _fails_to_start(command, env).startswith(expected)


@pytest.mark.parametrize(
    "command", [["vibevoice-tts", "--engine", "sine"], ["vibevoice-agent", "--llm", "scripted"]]
)
def test_a_port_in_use_exits_1_in_one_line_naming_the_flags(command: list[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = _fails_to_start([*command, "--port", str(port)], status=1)
    env = "VIBEVOICE_TTS" if command[0] == "vibevoice-tts" else "VIBEVOICE_AGENT"
    assert line == (
        f"{command[0]}: error: cannot listen on 127.0.0.1:{port} (--host/--port, env {env}_HOST/{env}_PORT): "
        "Address already in use"
    )


@pytest.mark.parametrize(
    ("prog", "secrets"),
    [
        ("vibevoice-tts", ["VIBEVOICE_TTS_API_KEYS"]),
        (
            "vibevoice-agent",
            ["VIBEVOICE_AGENT_API_KEYS", "VIBEVOICE_AGENT_TTS_API_KEY", "VIBEVOICE_AGENT_OPENAI_API_KEY"],
        ),
        ("vibevoice-smoke", ["VIBEVOICE_API_KEY"]),
    ],
)
def test_help_names_the_variables_that_carry_secrets(prog: str, secrets: list[str]) -> None:
    result = subprocess.run(
        [str(SCRIPTS / prog), "--help"], capture_output=True, text=True, timeout=60, check=True
    )
    for name in secrets:
        assert name in result.stdout
    assert "--api-keys" not in result.stdout  # a secret is never a flag


def test_openai_llm_without_a_key_is_not_ready_and_says_why(
    sine_tts: Service, start_agent: Callable[..., AbstractContextManager[Service]]
) -> None:
    flags = ("--llm", "openai", "--openai-base-url", "http://127.0.0.1:9/v1")
    with start_agent(sine_tts.url, *flags, ready_path="/health") as agent:
        ready = httpx.get(f"{agent.url}/ready")
        events = list(EventSource(httpx.post(f"{agent.url}/v1/agent/turn", json={"text": "Hi?"})).iter_sse())
    assert ready.status_code == 503
    check = ready.json()["checks"]["llm"]
    assert check["ok"] is False
    assert "set VIBEVOICE_AGENT_OPENAI_API_KEY" in check["detail"]
    error = next(e.json() for e in events if e.event == "error")  # each turn says so too, not "unreachable"
    assert error["code"] == "llm_no_api_key"
    assert "set VIBEVOICE_AGENT_OPENAI_API_KEY" in error["message"]
