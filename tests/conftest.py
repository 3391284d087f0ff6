"""Fixtures shared by every suite, and the suite's own rules: which image runs which test
(tests/support/shares.py), tests marked `serial` running alone under xdist (tests/support/serial.py), and
the `realtime` tests deselected where they cannot run (tests/support/realtime.py)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import pytest

from tests.support import serial, shares
from tests.support.processes import Service, free_port, running
from tests.support.realtime import MARKER, realtime_package_installed
from tests.support.tools import require_tool


def pytest_configure(config: pytest.Config) -> None:
    # Registered as a plugin, not a conftest hook, so it holds every test of the run (ci/tests too).
    if not config.pluginmanager.has_plugin(serial.__name__):
        config.pluginmanager.register(serial, serial.__name__)


def _deselect(config: pytest.Config, items: list[pytest.Item], leaving: list[pytest.Item]) -> None:
    left = set(leaving)
    config.hook.pytest_deselected(items=[item for item in items if item not in left])
    items[:] = leaving


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect, never skip (a skip fails under CI=true): in a service image's test stage, the other
    image's share; and the tests marked `realtime` where Microsoft's realtime package is absent. A marker
    expression that asks for those (`-m realtime`, `-m "model or realtime"`) keeps them, so a run meant to
    test the package fails where it is missing."""
    share = os.environ.get(shares.VARIABLE, "")
    if share:
        mine, others = shares.selected(share, items)
        if others:
            _deselect(config, items, mine)
    asked = re.search(rf"(?<!not )\b{MARKER}\b", config.getoption("markexpr") or "")
    if asked or realtime_package_installed():
        return
    runnable = [item for item in items if item.get_closest_marker(MARKER) is None]
    if len(runnable) < len(items):
        _deselect(config, items, runnable)


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
