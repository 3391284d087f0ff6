from __future__ import annotations

import pytest

from vibevoice_platform.agent.settings import AgentSettings
from vibevoice_platform.config import build_parser, parse_settings
from vibevoice_platform.tts.settings import TTSSettings


def test_flags_override_environment_which_overrides_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIBEVOICE_TTS_PORT", "9001")
    monkeypatch.setenv("VIBEVOICE_TTS_MAX_QUEUE", "3")
    settings = parse_settings(TTSSettings, ["--port", "9002", "--engine", "sine"], "t", "d")
    assert (settings.port, settings.max_queue, settings.engine) == (9002, 3, "sine")
    assert parse_settings(TTSSettings, [], "t", "d").port == 9001


def test_every_field_has_a_flag_but_secrets_do_not() -> None:
    options = {
        opt for action in build_parser(AgentSettings, "a", "d")._actions for opt in action.option_strings
    }
    assert "--scripted-token-delay-ms" in options
    assert "--tts-url" in options
    assert "--openai-api-key" not in options


def test_api_key_comes_from_the_environment_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIBEVOICE_AGENT_OPENAI_API_KEY", "sk-test-secret")
    settings = parse_settings(AgentSettings, ["--llm", "openai"], "a", "d")
    assert settings.openai_api_key is not None
    assert settings.openai_api_key.get_secret_value() == "sk-test-secret"
    assert "sk-test-secret" not in repr(settings)


def test_bad_values_exit_2_naming_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_settings(TTSSettings, ["--port", "70000"], "vibevoice-tts", "d")
    assert exited.value.code == 2
    assert "--port" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_settings(TTSSettings, ["--engine", "festival"], "vibevoice-tts", "d")
