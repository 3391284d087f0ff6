"""Start-up errors as a user meets them: one line naming the flag and its variable, never a traceback;
and an agent that cannot work (no LLM key) says so on /ready."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from contextlib import AbstractContextManager

import httpx
import pytest

from tests.support.processes import SCRIPTS, Service

pytestmark = pytest.mark.integration


def _fails_to_start(command: list[str], env: dict[str, str] | None = None) -> str:
    """Run a command that must refuse to start: exit 2, no traceback; its last line."""
    result = subprocess.run(
        [str(SCRIPTS / command[0]), *command[1:]],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr.strip().splitlines()[-1]


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
    ],
)
def test_a_bad_setting_is_one_line_naming_flag_and_variable(
    command: list[str], env: dict[str, str] | None, expected: str
) -> None:
    assert _fails_to_start(command, env).startswith(expected)


def test_openai_llm_without_a_key_is_not_ready_and_says_why(
    sine_tts: Service, start_agent: Callable[..., AbstractContextManager[Service]]
) -> None:
    flags = ("--llm", "openai", "--openai-base-url", "http://127.0.0.1:9/v1")
    with start_agent(sine_tts.url, *flags, ready_path="/health") as agent:
        ready = httpx.get(f"{agent.url}/ready")
    assert ready.status_code == 503
    check = ready.json()["checks"]["llm"]
    assert check["ok"] is False
    assert "set VIBEVOICE_AGENT_OPENAI_API_KEY" in check["detail"]
