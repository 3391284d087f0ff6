"""Model tests: the VibeVoice model code itself, on a CPU (the `gpu` extra with the CPU torch).

Every test here needs torch and transformers (the gpu extra). The realtime binding's tests need no
more: they run against a stand-in for Microsoft's package (fake_realtime.py), wherever that package is
installed or not. The tests of the long-form binding and of `--model tiny-random` need the long-form
model code of PyPI's `vibevoice` (`make model-deps`); their modules ask for it with `longform_code`.
What is missing skips locally and fails under CI=true. The tiny random model is loaded once per module.
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
from vibevoice_platform.tts.engines.vibevoice_longform import MODEL_MODULE as LONGFORM_MODULE

MODEL_PACKAGES = ("torch", "transformers")
LOAD_TIMEOUT_S = 120.0  # importing torch and building the model, on a busy 2-core machine


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def require_modules(names: tuple[str, ...], hint: str) -> None:
    """Skip (fail under CI) unless each of `names` can be imported."""
    missing = [name for name in names if not _importable(name)]
    if missing:
        unavailable(f"{', '.join(missing)} not importable: {hint}")


@pytest.fixture(autouse=True, scope="session")
def model_packages() -> None:
    """Every test here needs torch and transformers."""
    require_modules(MODEL_PACKAGES, "`make model-deps` installs the gpu extra")


@pytest.fixture(scope="module")
def longform_code() -> None:
    """The long-form model code (PyPI's vibevoice), which the cuda image does not have."""
    require_modules((LONGFORM_MODULE,), "`make model-deps` installs PyPI's vibevoice (long-form)")


@dataclass
class TinyTTS:
    """A `vibevoice-tts --model tiny-random` process, and what /ready answered while it loaded."""

    service: Service
    loading_status: int
    loading_body: dict[str, Any]


@pytest.fixture(scope="module")
def tiny_tts() -> Iterator[TinyTTS]:
    """The tiny long-form model behind the real service; one slot and no queue: a second request gets 429."""
    port = free_port()
    command = [
        "vibevoice-tts",
        "--engine", "vibevoice",
        "--model", "tiny-random",
        "--model-family", "longform",
        "--device", "cpu",
        "--max-concurrency", "1",
        "--max-queue", "0",
        "--port", str(port),
    ]  # fmt: skip
    with running(command, port=port, ready_path="/health", timeout=LOAD_TIMEOUT_S) as service:
        loading = httpx.get(f"{service.url}/ready")
        wait_until_ok(f"{service.url}/ready", service.process, service.log, LOAD_TIMEOUT_S)
        yield TinyTTS(service, loading.status_code, loading.json())
