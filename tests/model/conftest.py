"""Model tests: the VibeVoice model code itself, on a CPU (the `gpu` extra with the CPU torch).

They need torch and the PyPI `vibevoice` package (`make model-deps`); where those are not importable
they skip locally and fail under CI=true. The tiny random model is loaded once per module.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.support.processes import Service, free_port, running, wait_until_ok
from tests.support.tools import unavailable

# What `--model tiny-random` imports: the CPU torch and the PyPI package's long-form model code.
MODEL_MODULES = ("torch", "vibevoice.modular.modeling_vibevoice_inference")
LOAD_TIMEOUT_S = 120.0  # importing torch and building the model, on a busy 2-core machine


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def require_model_packages() -> None:
    """Skip (fail under CI) unless torch and the vibevoice model code can be imported."""
    missing = [name for name in MODEL_MODULES if not _importable(name)]
    if missing:
        unavailable(f"{', '.join(missing)} not importable: `make model-deps` installs the gpu extra")


@pytest.fixture(autouse=True, scope="session")
def model_packages() -> None:
    """Every test here needs the model packages."""
    require_model_packages()


@dataclass
class TinyTTS:
    """A `vibevoice-tts --model tiny-random` process, and what /ready answered while it loaded."""

    service: Service
    loading_status: int
    loading_body: dict[str, Any]


@pytest.fixture(scope="module")
def tiny_tts() -> Iterator[TinyTTS]:
    """The tiny model behind the real service; one slot and no queue, so a second request gets 429."""
    port = free_port()
    command = [
        "vibevoice-tts",
        "--engine", "vibevoice",
        "--model", "tiny-random",
        "--device", "cpu",
        "--max-concurrency", "1",
        "--max-queue", "0",
        "--port", str(port),
    ]  # fmt: skip
    with running(command, port=port, ready_path="/health", timeout=LOAD_TIMEOUT_S) as service:
        loading = httpx.get(f"{service.url}/ready")
        wait_until_ok(f"{service.url}/ready", service.process, service.log, LOAD_TIMEOUT_S)
        yield TinyTTS(service, loading.status_code, loading.json())
