"""The service's CPU time per request: finding a local service's process, its clock, the windows."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator

import pytest

from vibevoice_platform.bench.cpu import CpuWindows, ProcClock, listening_pid

pytestmark = pytest.mark.anyio


@pytest.fixture
def listener() -> Iterator[int]:
    """A port this process listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_the_process_listening_on_a_port_is_found(listener: int) -> None:
    assert listening_pid(listener) == os.getpid()
    with socket.socket() as sock:  # bound, not listening: nobody serves it
        sock.bind(("127.0.0.1", 0))
        assert listening_pid(sock.getsockname()[1]) is None


async def test_a_process_clock_counts_its_cpu_in_nanoseconds() -> None:
    clock = ProcClock(os.getpid())
    assert clock.source == f"proc:{os.getpid()}"
    before = await clock.seconds()
    until = time.process_time() + 0.003  # 3 ms: well below a clock tick, still seen
    while time.process_time() < until:
        pass
    spent = await clock.seconds() - before
    assert 0.003 <= spent < 1.0


class Scripted:
    """A CPU clock that reads the values it is given, in turn."""

    def __init__(self, *readings: float) -> None:
        self._readings = list(readings)

    @property
    def source(self) -> str:
        return "scripted"

    async def seconds(self) -> float:
        return self._readings.pop(0)


async def test_windows_close_once_every_clock_has_its_requests() -> None:
    windows = CpuWindows([Scripted(1.0, 1.04, 1.10), Scripted(5.0, 5.02, 5.05)], size=2)
    await windows.completed([4, 4])  # before start: nothing counts
    await windows.start()
    await windows.completed([1, 2])  # one clock short of its window
    await windows.completed([2, 3])
    await windows.completed([3, 3])
    await windows.completed([5, 6])
    assert windows.windows == [pytest.approx([20.0, 20.0]), pytest.approx([20.0 / 3, 10.0])]
    with pytest.raises(ValueError, match="at least one"):
        CpuWindows([], size=0)
