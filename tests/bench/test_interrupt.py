"""Ctrl-C during `vibevoice-bench run` keeps what was measured, marked incomplete, and compare never
takes such a run as the next baseline."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.support.processes import SCRIPTS, free_port, running
from vibevoice_platform.bench.cli import EXIT_INTERRUPTED, main
from vibevoice_platform.bench.results import load_results

pytestmark = pytest.mark.integration


def _finished_requests(url: str) -> int:
    lines = httpx.get(f"{url}/metrics").text.splitlines()
    counts = [line for line in lines if line.startswith("vibevoice_tts_request_duration_seconds_count")]
    return sum(int(float(line.split()[-1])) for line in counts)


def test_ctrl_c_saves_the_requests_so_far_marked_incomplete(tmp_path: Path) -> None:
    port = free_port()
    command = ["vibevoice-tts", "--engine", "sine", "--sine-pace", "20", "--port", str(port)]
    with running(command, port=port) as tts:
        argv = ["run", "--target", "tts", "--url", tts.url, "--duration", "600", "--concurrency", "2"]
        with subprocess.Popen(
            [str(SCRIPTS / "vibevoice-bench"), *argv, "--warmup", "0", "--out", str(tmp_path / "run")],
            stderr=subprocess.PIPE,
            text=True,
        ) as bench:
            # A worker starts its next request only once it has read the last answer whole, so the
            # server's count runs at most one request per worker ahead of what the bench recorded:
            # 4 + 2 finished there means at least 4 recorded (4 alone failed once on a loaded machine).
            deadline = time.monotonic() + 60
            while _finished_requests(tts.url) < 4 + 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            bench.send_signal(signal.SIGINT)
            _, stderr = bench.communicate(timeout=60)
    assert bench.returncode == EXIT_INTERRUPTED, stderr
    assert "Traceback" not in stderr
    assert "interrupted; saving the requests finished so far" in stderr
    assert "INCOMPLETE (interrupted) tts/http" in stderr
    results = load_results(tmp_path / "run" / "results.json")
    assert results.run.complete is False
    assert results.requests >= 4
    assert results.metrics["ttfa_ms"].count == results.ok
    assert len((tmp_path / "run" / "requests.jsonl").read_text().splitlines()) == results.requests

    out = tmp_path / "compare"
    assert main(["compare", "--current", str(tmp_path / "run" / "results.json"), "--out", str(out)]) == 0
    assert (out / "summary.md").exists()
    assert not (out / "baseline.json").exists()  # an interrupted run never becomes a baseline
