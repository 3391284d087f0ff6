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
    """A CPU clock that reads the values it is given, in turn, counting in `resolution_s` steps."""

    def __init__(self, *readings: float, resolution_s: float = 1e-9) -> None:
        self._readings = list(readings)
        self.resolution_s = resolution_s

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


async def test_a_clock_in_ticks_gets_windows_long_enough_for_them() -> None:
    """10 ms ticks: a window needs 20 of them (0.2 s of CPU); with 30 ms a request, 5 requests are
    not enough, 10 are."""
    windows = CpuWindows([Scripted(0.0, 0.15, 0.30, 0.60, resolution_s=0.01)], size=5)
    await windows.start()
    await windows.completed([5])  # 0.15 s: 15 ticks, too few; the window grows to 10 requests
    assert windows.windows == [[]]
    assert windows.size == 10
    await windows.completed([7])  # not read: fewer than 10 requests since the window began
    await windows.completed([10])  # 0.30 s over 10 requests
    await windows.completed([20])  # 0.30 s more
    assert windows.windows == [pytest.approx([30.0, 30.0])]
