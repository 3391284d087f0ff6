"""A private redis-server on loopback for the session store's tests (never the machine's own).

Each server gets a free port, no persistence and a password of its own; it can be killed and started
again on the same port (an outage and a recovery), or paused (SIGSTOP: connections open, no answers)
and resumed.
"""

from __future__ import annotations

import secrets
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis

from tests.support.processes import free_port, wait_for
from tests.support.tools import require_tool

HINT = "apt-get install redis-server"


@dataclass
class RedisServer:
    """One redis-server process, its port and its password."""

    binary: str
    port: int = field(default_factory=free_port)
    password: str = field(default_factory=lambda: secrets.token_hex(16))
    process: subprocess.Popen[bytes] | None = None
    log: Path = field(default_factory=lambda: Path(tempfile.mkstemp(prefix="redis-", suffix=".log")[1]))

    @property
    def url(self) -> str:
        """Its URL without the password (which the agents get from the environment)."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def url_with_password(self) -> str:
        """Its URL with the password in it, as a Secret would hold it."""
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        """A client for the test to look into the store with."""
        return redis.Redis(port=self.port, password=self.password, decode_responses=True, socket_timeout=5)

    def start(self) -> None:
        """Start it (again, on the same port) and wait until it answers."""
        # The configuration on stdin (`redis-server -`), so the password is in no argv.
        config = (
            f"port {self.port}\nbind 127.0.0.1\nsave ''\nappendonly no\n"
            f"dir {tempfile.gettempdir()}\nrequirepass {self.password}\n"
        )
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen(
                [self.binary, "-"], stdin=subprocess.PIPE, stdout=sink, stderr=subprocess.STDOUT
            )
        assert self.process.stdin is not None
        self.process.stdin.write(config.encode())
        self.process.stdin.close()
        if not wait_for(self._answers, timeout=20):
            self.kill()
            raise RuntimeError(f"redis-server did not start:\n{self.log.read_text(errors='replace')}")

    def _answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"redis-server exited:\n{self.log.read_text(errors='replace')}")
        try:
            with self.client() as client:
                return bool(client.ping())
        except redis.ConnectionError:
            return False

    def kill(self) -> None:
        """SIGKILL: the store is gone at once, with everything in it."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)  # a paused server dies as well
            self.process.kill()
            self.process.wait(10)

    @contextmanager
    def paused(self) -> Iterator[None]:
        """SIGSTOP for the block: the port still accepts connections, nothing answers."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)
        try:
            yield
        finally:
            self.process.send_signal(signal.SIGCONT)


@contextmanager
def redis_server() -> Iterator[RedisServer]:
    """A started private redis-server, killed afterwards (fails under CI=true without the binary)."""
    server = RedisServer(require_tool("redis-server", HINT))
    server.start()
    try:
        yield server
    finally:
        server.kill()
