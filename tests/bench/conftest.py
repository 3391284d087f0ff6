"""Fixtures of the benchmark tests: the reference server as a real process on loopback."""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest

from tests.support.processes import Service, free_port, running

ReferenceFactory = Callable[..., AbstractContextManager[Service]]


@pytest.fixture
def reference() -> ReferenceFactory:
    """Start `python -m vibevoice_platform.bench.reference_server` with the given timings."""

    def start(**options: float) -> AbstractContextManager[Service]:
        port = free_port()
        flags = [f"--{name.replace('_', '-')}={value:g}" for name, value in options.items()]
        command = [
            sys.executable,
            "-m",
            "vibevoice_platform.bench.reference_server",
            "--port",
            str(port),
            *flags,
        ]
        return running(command, port=port)

    return start
