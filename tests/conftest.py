"""Fixtures shared by every suite, and the suite's own rules: which image runs which test
(tests/support/shares.py), and tests marked `serial` running alone under xdist (tests/support/serial.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support import serial, shares
from tests.support.processes import Service, free_port, running
from tests.support.tools import require_tool


def pytest_configure(config: pytest.Config) -> None:
    # Registered as a plugin, not a conftest hook, so it holds every test of the run (ci/tests too).
    if not config.pluginmanager.has_plugin(serial.__name__):
        config.pluginmanager.register(serial, serial.__name__)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In a service image's test stage, deselect (never skip) the other image's share."""
    share = os.environ.get(shares.VARIABLE, "")
    if not share:
        return
    mine, others = shares.selected(share, items)
    if others:
        config.hook.pytest_deselected(items=others)
        items[:] = mine


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
