"""Where and what a run measured: the machine, the tools, the commit, the service's own description.

Everything here is best effort: a missing `nvidia-smi`, a directory that is not a git checkout or a
service without `/ready` gives None, never an error, because metadata must not stop a measurement.
"""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import subprocess
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel

TOOLS = ("vibevoice-platform", "httpx", "websockets", "anyio", "numpy")


class Machine(BaseModel):
    """The machine the load generator ran on (the `testbed` of a run)."""

    cpu_model: str | None
    cpu_count: int | None
    gpu: str | None
    os: str
    python: str
    tools: dict[str, str | None]
    cpu_probe_ms: float | None = None  # a fixed pure-Python workload, median of its rounds
    cpu_probe_spread: float | None = None  # interquartile range of the rounds / median: its own noise


def cpu_probe(rounds: int = 15) -> tuple[float, float]:
    """(median ms, relative spread) of a fixed pure-Python workload run `rounds` times here.

    Runners differ in speed from one night to the next; this says by how much, so a comparison can
    tell a slower machine from slower code. On a shared machine the probe is noisy itself (best-of-5
    figures 20 s apart differed by 39 %, rounds of one probe by a quarter): the median is steadier
    than the best, and the spread (interquartile range over median) says how far to trust it.
    """
    times: list[float] = []
    for _ in range(rounds):
        started = time.perf_counter()
        total = 0
        for i in range(200_000):
            total += i * i % 7
        times.append((time.perf_counter() - started) * 1000)
    q1, median, q3 = statistics.quantiles(times, n=4)
    return round(median, 3), round((q3 - q1) / median, 4)


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str | None:
    """The CPU's model name from /proc/cpuinfo, else what the platform module says."""
    try:
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or None


def gpu_name() -> str | None:
    """The GPUs' names as nvidia-smi reports them, or None without an NVIDIA driver."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    try:
        out = subprocess.run(
            [smi, "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    names = [line.strip() for line in out.splitlines() if line.strip()]
    return ", ".join(names) or None


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def describe_machine() -> Machine:
    """Describe this machine."""
    probe_ms, probe_spread = cpu_probe()
    return Machine(
        cpu_model=cpu_model(),
        cpu_count=os.cpu_count(),
        gpu=gpu_name(),
        os=platform.platform(),
        python=platform.python_version(),
        tools={name: _version(name) for name in TOOLS},
        cpu_probe_ms=probe_ms,
        cpu_probe_spread=probe_spread,
    )


def git_sha(explicit: str | None = None) -> str | None:
    """The commit under test: given, or $GITHUB_SHA, or HEAD of the working directory's checkout."""
    if explicit:
        return explicit
    if os.environ.get("GITHUB_SHA"):
        return os.environ["GITHUB_SHA"]
    git = shutil.which("git")
    if git is None:
        return None
    try:
        result = subprocess.run(
            [git, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


async def describe_service(http: httpx.AsyncClient, url: str) -> dict[str, Any] | None:
    """The service's `GET /ready` body (engine, model, ...) whatever its status, or None."""
    try:
        response = await http.get(f"{url}/ready")
        body = response.json()
    except (httpx.HTTPError, ValueError):
        return None
    return body if isinstance(body, dict) else None
