"""Integration fixtures: real service processes on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import pytest

from tests.support.processes import Service, bytes_written, child_pids, free_port, running

pytestmark = pytest.mark.integration


StartTTS = Callable[..., AbstractContextManager[Service]]


def espeak_pids(service: Service, *, speaking: bool) -> list[int]:
    """The service's espeak-ng children that are speaking, or (`speaking=False`) waiting for their text.

    The service keeps espeak-ng processes started ahead of their request (its warm pool, one per slot
    by default). A waiting one has written nothing, not even its WAV header, which comes with its
    first audio; one that has written is speaking, or was, and must be gone once its request ends.
    """
    found: list[int] = []
    for pid, name in child_pids(service.process.pid).items():
        if not name.startswith("espeak"):
            continue
        try:
            written = bytes_written(pid)
        except OSError:  # it exited since it was listed
            continue
        if (written > 0) == speaking:
            found.append(pid)
    return found


@pytest.fixture
def start_tts() -> StartTTS:
    """Start a `vibevoice-tts` with extra flags: `with start_tts("--engine", "sine") as tts: ...`."""

    def start(*flags: str, env: dict[str, str] | None = None) -> AbstractContextManager[Service]:
        port = free_port()
        return running(["vibevoice-tts", "--port", str(port), *flags], port=port, env=env)

    return start


@pytest.fixture
def start_agent() -> Callable[..., AbstractContextManager[Service]]:
    """Start a `vibevoice-agent` against a TTS URL: `with start_agent(tts.url, "--llm", "scripted")`."""

    def start(
        tts_url: str, *flags: str, env: dict[str, str] | None = None, ready_path: str = "/ready"
    ) -> AbstractContextManager[Service]:
        port = free_port()
        command = ["vibevoice-agent", "--port", str(port), "--tts-url", tts_url, *flags]
        return running(command, port=port, env=env, ready_path=ready_path)

    return start


@pytest.fixture(scope="module")
def sine_tts() -> Iterator[Service]:
    """A fast deterministic TTS shared by a module."""
    port = free_port()
    with running(["vibevoice-tts", "--engine", "sine", "--port", str(port)], port=port) as service:
        yield service
