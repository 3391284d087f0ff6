"""CPU time the service spends per request: a cost figure far less noisy than time on a shared machine.

A request's latency moves with everything else the machine runs; the CPU time the service process
spends on it moves much less (a busy neighbour steals wall time, not the process's own CPU time). Two
ways to read a service's CPU clock:

- `ProcClock`, for a service on this machine (found by the port it listens on): the process's own CPU
  clock (`clock_gettime` on its CPU-time clock, nanoseconds, all its threads) plus the CPU time of the
  children it has waited for (espeak-ng, from /proc/PID/stat in clock ticks).
- `MetricsClock`, for any service that exports `process_cpu_seconds_total` on /metrics (both services
  do, through prometheus-client: a container, a pod, another machine): in clock ticks, without
  children; each read is one more small request to the service, the same for every window.

`CpuWindows` turns readings into samples: the CPU per request over each window of at least `size`
requests (measured from the client's side: requests completed between two readings), one series per
clock. A clock that counts in ticks (10 ms) needs windows long enough for a tick to be small beside
them: a window closes only once every clock has moved by `TICKS_PER_WINDOW` of its ticks, and where
one has not, the windows grow (doubling) until they do.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import httpx
from prometheus_client.parser import text_string_to_metric_families

PROC = Path("/proc")
CPU_METRIC = "process_cpu_seconds_total"
SERVICE_MARK = b"vibevoice"  # a listening process whose command line lacks it is not the service
_TCP_LISTEN = "0A"
TICKS_PER_WINDOW = 20  # a tick is then at most 5 % of a window's CPU time
TICK_S = 1 / os.sysconf("SC_CLK_TCK")


class CpuClock(Protocol):
    """Seconds of CPU a service has used so far."""

    @property
    def source(self) -> str:
        """Where the figure comes from, as results.json records it."""
        ...

    @property
    def resolution_s(self) -> float:
        """The smallest step the clock counts in, as far as it has been read."""
        ...

    async def seconds(self) -> float: ...


class ProcClock:
    """A local process's CPU time: its own (nanoseconds) and its waited-for children's (ticks)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._clock = ((~pid) << 3) | 2  # the kernel's CPU clock of a whole process (CPUCLOCK_SCHED)
        self._resolution = 1e-9

    @property
    def source(self) -> str:
        return f"proc:{self.pid}"

    @property
    def resolution_s(self) -> float:
        return self._resolution  # a tick once its children (in ticks) count

    async def seconds(self) -> float:
        own = time.clock_gettime(self._clock)
        fields = (PROC / str(self.pid) / "stat").read_text().rsplit(")", 1)[1].split()
        children = (int(fields[13]) + int(fields[14])) * TICK_S  # cutime, cstime
        if children:
            self._resolution = TICK_S
        return own + children


class MetricsClock:
    """`process_cpu_seconds_total` from a service's /metrics."""

    def __init__(self, http: httpx.AsyncClient, url: str) -> None:
        self._http = http
        self._url = f"{url}/metrics"

    @property
    def source(self) -> str:
        return "metrics"

    @property
    def resolution_s(self) -> float:
        return TICK_S  # prometheus-client reads /proc/self/stat

    async def seconds(self) -> float:
        response = await self._http.get(self._url)
        response.raise_for_status()
        for family in text_string_to_metric_families(response.text):
            for sample in family.samples:
                if sample.name == CPU_METRIC:
                    return float(sample.value)
        raise LookupError(f"{self._url} has no {CPU_METRIC}")


def listening_pid(port: int, proc: Path = PROC) -> int | None:
    """The process listening on TCP `port` on this machine, if this user may see it."""
    inodes: set[str] = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (proc / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == _TCP_LISTEN and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    if not inodes:
        return None
    targets = {f"socket:[{inode}]" for inode in inodes}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd) in targets:
                    return int(entry.name)
        except OSError:  # gone, or another user's
            continue
    return None


def _is_local(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host in (socket.gethostname(), socket.getfqdn())


async def find_clock(http: httpx.AsyncClient, url: str) -> CpuClock | None:
    """The service's CPU clock: its process when it listens on this machine (and is a vibevoice
    service, not a port forwarder such as docker-proxy), else its /metrics, else None."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if parts.hostname and _is_local(parts.hostname):
        pid = listening_pid(port)
        if pid is not None and SERVICE_MARK in _cmdline(pid):
            return ProcClock(pid)
    clock = MetricsClock(http, url)
    try:
        await clock.seconds()
    except (httpx.HTTPError, LookupError, ValueError):
        return None
    return clock


def _cmdline(pid: int) -> bytes:
    try:
        return (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return b""


class CpuWindows:
    """CPU milliseconds per request of each clock, over windows of at least `size` requests each (more
    where a clock counts in ticks)."""

    def __init__(self, clocks: Sequence[CpuClock], size: int) -> None:
        if size < 1:
            raise ValueError("a window holds at least one request")
        self.clocks = tuple(clocks)
        self.size = size
        self.windows: list[list[float]] = [[] for _ in self.clocks]
        self._last: list[float] = []
        self._counts: list[int] = [0] * len(self.clocks)
        self._reading = False

    async def start(self) -> None:
        """The first reading: the windows count from here."""
        self._last = [await clock.seconds() for clock in self.clocks]
        self._counts = [0] * len(self.clocks)

    async def completed(self, counts: Sequence[int]) -> None:
        """Requests completed so far, per clock; closes a window once each has `size` more."""
        if self._reading or not self._last:
            return
        if min(now - then for now, then in zip(counts, self._counts, strict=True)) < self.size:
            return
        self._reading = True
        try:
            counts = list(counts)
            now = [await clock.seconds() for clock in self.clocks]
        finally:
            self._reading = False
        moved = [
            (seconds - last) / clock.resolution_s
            for seconds, last, clock in zip(now, self._last, self.clocks, strict=True)
        ]
        if min(moved) < TICKS_PER_WINDOW:
            self.size *= 2  # too little CPU yet to tell from a tick: a longer window
            return
        for series, seconds, last, done, before in zip(
            self.windows, now, self._last, counts, self._counts, strict=True
        ):
            series.append((seconds - last) * 1000 / (done - before))
        self._last, self._counts = now, counts
