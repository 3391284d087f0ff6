"""Fixtures shared by every suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.processes import Service, free_port, running
from tests.support.tools import require_tool


@pytest.fixture(scope="session")
def espeak_ng() -> str:
    """The espeak-ng binary (Debian package espeak-ng)."""
    return require_tool("espeak-ng", "apt-get install espeak-ng")


@pytest.fixture(scope="module")
def tts_espeak(espeak_ng: str) -> Iterator[Service]:
    """A real `vibevoice-tts --engine espeak` on loopback, shared by a test module."""
    port = free_port()
    with running(["vibevoice-tts", "--engine", "espeak", "--port", str(port)], port=port) as service:
        yield service
