"""Results documents built from chosen samples, for the compare, report and chart tests."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np

from vibevoice_platform.bench.records import ErrorType, RequestError, RequestRecord
from vibevoice_platform.bench.results import Results, RunInfo, build_results
from vibevoice_platform.bench.testbed import Machine

MACHINE = Machine(
    cpu_model="Test CPU", cpu_count=2, gpu=None, os="Linux", python="3.11", tools={"vibevoice-platform": "0"}
)


def noisy(centre: float, n: int, seed: int, spread: float = 0.05) -> list[float]:
    """n positive samples around `centre`: a log-normal spread, as latencies have."""
    rng = np.random.default_rng(seed)
    return [float(v) for v in centre * rng.lognormal(0.0, spread, n)]


def make_results(
    ttfa: Sequence[float],
    e2e: Sequence[float] | None = None,
    *,
    failures: int = 0,
    concurrency: int = 4,
    cpu_model: str = "Test CPU",
    cpu_probe_ms: float | None = None,
    cpu_probe_spread: float | None = None,
    git_sha: str = "0123456789abcdef",
) -> Results:
    """A run whose successful requests have these TTFA (and latency) samples, plus failed ones."""
    e2e = e2e if e2e is not None else [3 * v for v in ttfa]
    records = [
        RequestRecord(
            index=i,
            utterance=f"short-{i % 8}",
            chars=30,
            offset_s=i * 0.1,
            ok=True,
            ttfa_ms=t,
            e2e_latency_ms=e,
            chunks=3,
            bytes=48_000,
            audio_seconds=1.0,
            rtf=e / 1000,
        )
        for i, (t, e) in enumerate(zip(ttfa, e2e, strict=True))
    ]
    records += [
        RequestRecord(
            index=len(ttfa) + i,
            utterance="short-0",
            chars=30,
            offset_s=0.0,
            ok=False,
            error=RequestError(type=ErrorType.HTTP, code="500", message="server_error: boom"),
        )
        for i in range(failures)
    ]
    run = RunInfo(
        target="tts", protocol="http", url="http://127.0.0.1:8000", engine="sine", model="sine",
        git_sha=git_sha, concurrency=concurrency, requests=len(records), duration_s=None, warmup=4,
        timeout_s=60.0, corpus="mixed", voice=None, started_at=datetime(2026, 1, 2, 3, 4, tzinfo=UTC),
        wall_s=10.0, service={"status": "ready", "engine": "sine"},
    )  # fmt: skip
    probe = {"cpu_probe_ms": cpu_probe_ms, "cpu_probe_spread": cpu_probe_spread}
    machine = MACHINE.model_copy(update={"cpu_model": cpu_model, **probe})
    return build_results(records, run, machine)


def parse_svg(text: str) -> ET.Element:
    """Parse an SVG this package wrote (trusted input: the S314 warning is about hostile XML)."""
    return ET.fromstring(text)  # noqa: S314
