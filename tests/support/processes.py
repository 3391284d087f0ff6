"""Real service processes on loopback for integration tests.

`running(...)` starts a command (a console script of this project, usually), waits until a URL answers
200, yields the process, and stops it with SIGTERM (then SIGKILL) however the test ends; the process's
output is kept in a log file that is shown when startup fails.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

SCRIPTS = Path(sys.executable).parent
# How long a service may take to answer /ready. Quiet, it takes about a second; `dagger call ci` runs
# every test suite at once, and on 2 cores a start there was seen to take over 20 s. A deadline, not
# a measurement: a service that starts sooner is used sooner.
START_TIMEOUT_S = 90.0


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> bool:
    """Poll `condition` until it holds (True) or `timeout` seconds pass (False): tests wait for what
    they assert, never for a fixed time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def child_pids(pid: int) -> dict[int, str]:
    """The live (non-zombie) child processes of `pid` by pid, with their names, read from /proc."""
    children: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            name = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            children[int(entry.name)] = name
    return children


def child_processes(pid: int) -> list[str]:
    """Names of the live (non-zombie) child processes of `pid`."""
    return list(child_pids(pid).values())


def blocked_writing_a_pipe(pid: int) -> bool:
    """Whether process `pid` sleeps in the kernel waiting for room in a pipe it writes to."""
    try:
        return "pipe_write" in Path(f"/proc/{pid}/wchan").read_text()
    except OSError:
        return False


def bytes_written(pid: int) -> int:
    """What process `pid` has written so far, all descriptors together (/proc/PID/io `wchar`)."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    raise ValueError(f"/proc/{pid}/io has no wchar")


def stalled_reader(port: int, body: str) -> socket.socket:
    """A client that asks for speech with a 4 KB receive buffer, reads the status line (200), then
    never reads again: the server's writes back up into espeak-ng's pipe. Close it to hang up."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(
        b"POST /v1/audio/speech HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body.encode())}\r\n\r\n{body}".encode()
    )
    assert sock.recv(1024).startswith(b"HTTP/1.1 200")
    return sock


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Service:
    """A started process and the base URL it serves."""

    process: subprocess.Popen[bytes]
    url: str
    port: int
    log: Path

    def output(self) -> str:
        """Everything the process has written so far."""
        return self.log.read_text(errors="replace")

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, wait, SIGKILL if needed; returns the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()


def wait_until_ok(
    url: str, process: subprocess.Popen[bytes] | None, log: Path | None, timeout: float
) -> None:
    """Poll `url` until it answers 200; fail early if the process dies."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            output = log.read_text(errors="replace") if log else ""
            raise RuntimeError(f"process exited with {process.returncode} before {url} was ok:\n{output}")
        try:
            response = httpx.get(url, timeout=1.0)
            if response.status_code == 200:
                return
            last = f"{response.status_code} {response.text[:200]}"
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.05)
    output = log.read_text(errors="replace") if log else ""
    raise TimeoutError(f"{url} not ok after {timeout} s (last: {last}):\n{output}")


@contextmanager
def running(
    command: Sequence[str],
    *,
    port: int,
    ready_path: str = "/ready",
    env: Mapping[str, str] | None = None,
    timeout: float = START_TIMEOUT_S,
) -> Iterator[Service]:
    """Start `command` (its first word is looked up in this venv's scripts) and wait for readiness."""
    executable = SCRIPTS / command[0]
    argv = [str(executable) if executable.exists() else command[0], *command[1:]]
    log = Path(tempfile.mkstemp(prefix=f"{Path(command[0]).name}-", suffix=".log")[1])
    with log.open("wb") as sink:
        process = subprocess.Popen(
            argv, stdout=sink, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
    service = Service(process, f"http://127.0.0.1:{port}", port, log)
    try:
        wait_until_ok(service.url + ready_path, process, log, timeout)
        yield service
    finally:
        service.stop()
