"""The environment the chart gives each container is what the service reads: every VIBEVOICE_* name is
a setting of the service, and every value passes the service's own validation, for every values set."""

from __future__ import annotations

import os
from typing import TypeVar

import pytest
from pydantic_settings import BaseSettings

from tests.chart.chart import COMPONENTS, VALUE_SETS, Rendered, chart_environment
from vibevoice_platform.agent.settings import AgentSettings
from vibevoice_platform.tts.settings import TTSSettings

SettingsT = TypeVar("SettingsT", bound=BaseSettings)

SETTINGS: dict[str, tuple[type[BaseSettings], str]] = {
    "tts": (TTSSettings, "VIBEVOICE_TTS_"),
    "agent": (AgentSettings, "VIBEVOICE_AGENT_"),
}


def from_environment(settings_cls: type[SettingsT]) -> SettingsT:
    """The settings a service would build from the current environment (no flags)."""
    return settings_cls()


@pytest.mark.parametrize("component", COMPONENTS)
@pytest.mark.parametrize("name", VALUE_SETS)
def test_chart_environment_is_read_by_the_service(
    rendered_sets: dict[str, Rendered], name: str, component: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings_cls, prefix = SETTINGS[component]
    environment = chart_environment(rendered_sets[name], component)
    known = {prefix + field.upper() for field in settings_cls.model_fields}
    assert {key for key in environment if key.startswith(prefix)} <= known
    for key in list(os.environ):
        if key.startswith("VIBEVOICE_"):
            monkeypatch.delenv(key)
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    settings = from_environment(settings_cls)  # raises on any value the service would refuse
    assert settings.model_dump()["host"] == "0.0.0.0"


def test_gpu_environment_selects_the_vibevoice_engine_on_cuda(
    rendered_sets: dict[str, Rendered], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in chart_environment(rendered_sets["gpu"], "tts").items():
        monkeypatch.setenv(key, value)
    settings = from_environment(TTSSettings)
    # one device, one generation at a time
    assert (settings.engine, settings.device, settings.max_concurrency) == ("vibevoice", "cuda", 1)
