from __future__ import annotations

import re
from pathlib import Path

import pytest

from vibevoice_platform.agent.settings import AgentSettings
from vibevoice_platform.clients import ApiKeyError, api_key
from vibevoice_platform.config import build_parser, http_url, parse_settings, redis_url
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


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("127.0.0.1:8000", "did you mean http://127.0.0.1:8000?"),
        ("localhost:8000", "did you mean http://localhost:8000?"),
        ("ftp://host/", "is not an http:// or https:// URL with a host"),
        ("http://", "is not an http:// or https:// URL with a host"),
    ],
)
def test_a_url_without_a_scheme_or_host_is_refused_saying_what_to_write(value: str, problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        http_url(value)
    assert http_url("https://tts.example:8443/") == "https://tts.example:8443"


def test_a_bad_command_line_is_one_line_without_the_usage_block(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_settings(AgentSettings, ["--tts-url", "127.0.0.1:8000"], "vibevoice-agent", "d")
    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        "vibevoice-agent: error: --tts-url (env VIBEVOICE_AGENT_TTS_URL): '127.0.0.1:8000' is not an "
        "http:// or https:// URL with a host; did you mean http://127.0.0.1:8000?"
    ]


def test_the_api_key_comes_from_a_file_or_the_environment(tmp_path: Path) -> None:
    assert api_key(None, {"VIBEVOICE_API_KEY": "from-env"}) == "from-env"
    assert api_key(None, {"VIBEVOICE_API_KEY": ""}) is None
    key = tmp_path / "key"
    key.write_text("  from-file\n")
    assert api_key(key, {"VIBEVOICE_API_KEY": "from-env"}) == "from-file"  # the flag wins
    key.write_text("\n")
    with pytest.raises(ApiKeyError, match="is empty"):
        api_key(key, {})
    with pytest.raises(ApiKeyError, match="No such file"):
        api_key(tmp_path / "missing", {})


@pytest.mark.parametrize(
    "value", ["redis://redis.db:6379/0", "rediss://:pw@redis.db", "unix:///run/redis.sock?db=1"]
)
def test_a_session_store_url_is_redis(value: str) -> None:
    assert redis_url(value) == value


@pytest.mark.parametrize(
    "value", ["s3cret@redis.db:6379", "http://:s3cret@redis.db", "redis://:s3cret@/0", "unix://:s3cret@"]
)
def test_another_session_store_url_is_refused_without_repeating_it(value: str) -> None:
    with pytest.raises(ValueError, match="is not a redis://HOST, rediss://HOST or unix:///PATH URL") as no:
        redis_url(value)
    assert "s3cret" not in str(no.value)


def test_a_url_with_a_password_is_refused_as_a_flag_and_taken_from_the_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_settings(AgentSettings, ["--session-store-url", "redis://:hunter2@db"], "vibevoice-agent", "d")
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert "VIBEVOICE_AGENT_SESSION_STORE_URL" in error
    assert "hunter2" not in error
    monkeypatch.setenv("VIBEVOICE_AGENT_SESSION_STORE_URL", "redis://:hunter2@db")
    settings = parse_settings(AgentSettings, [], "vibevoice-agent", "d")
    assert settings.session_store_url == "redis://:hunter2@db"
    monkeypatch.setenv("VIBEVOICE_AGENT_SESSION_STORE_URL", "")  # compose's unset variable
    assert parse_settings(AgentSettings, [], "vibevoice-agent", "d").session_store_url is None
