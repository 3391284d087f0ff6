"""`vibevoice-bench run` against the reference server (known timings) and against nothing at all."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bench.conftest import ReferenceFactory
from tests.support.processes import free_port
from vibevoice_platform.bench.cli import EXIT_OK, main
from vibevoice_platform.bench.records import RequestRecord
from vibevoice_platform.bench.results import load_results

pytestmark = pytest.mark.integration

METRIC_FIELDS = {"unit", "count", "avg", "min", "max", "std", "p50", "p90", "p95", "p99", "samples"}


def _records(out: Path) -> list[RequestRecord]:
    lines = (out / "requests.jsonl").read_text().splitlines()
    return [RequestRecord.model_validate_json(line) for line in lines]


def test_an_injected_delay_shows_up_in_ttfa_and_gaps(reference: ReferenceFactory, tmp_path: Path) -> None:
    """A 50 ms delay before the first chunk and 5 ms between chunks show up in what the client measures.

    The bounds are the mechanism, not the accuracy: no request can see its first audio before the
    server sends it, and the measurement must not be off by a multiple of the delay, even on a loaded
    2-core machine. How close to 50 ms the p50 lands is a figure of scripts/bench-overhead.py.
    """
    with reference(delay_ms=50, chunks=3, interval_ms=5) as server:
        argv = ["run", "--target", "tts", "--url", server.url, "--requests", "30", "--warmup", "3"]
        assert main([*argv, "--out", str(tmp_path)]) == EXIT_OK
    results = load_results(tmp_path / "results.json")
    ttfa = results.metrics["ttfa_ms"]
    assert ttfa.count == 30
    assert ttfa.min is not None
    assert ttfa.p50 is not None
    assert ttfa.min >= 50.0
    assert ttfa.p50 < 50.0 * 3
    server_ttfa = results.metrics["server_ttfa_ms"].p50
    assert server_ttfa is not None
    assert 50.0 <= server_ttfa <= ttfa.p50
    # A late read of one chunk can shorten the next gap, but not every request's: the 5 ms shows.
    gaps = results.metrics["inter_chunk_gap_ms"].max
    assert gaps is not None
    assert gaps >= 5.0 * 0.9
    e2e = results.metrics["e2e_latency_ms"].min
    assert e2e is not None
    assert e2e >= 50.0 + 10.0  # the last chunk leaves two 5 ms intervals after the first


def test_results_and_records_follow_the_contract(reference: ReferenceFactory, tmp_path: Path) -> None:
    with reference(delay_ms=5, chunks=4, chunk_bytes=2400) as server:
        argv = ["run", "--target", "tts", "--url", server.url, "--requests", "12", "--concurrency", "3"]
        assert main([*argv, "--git-sha", "abc123", "--out", str(tmp_path)]) == EXIT_OK
    document = json.loads((tmp_path / "results.json").read_text())
    assert {"ttfa_ms", "e2e_latency_ms", "inter_chunk_gap_ms", "audio_seconds", "rtf", "bytes"} <= set(
        document["metrics"]
    )
    assert all(set(m) == METRIC_FIELDS for m in document["metrics"].values())
    assert document["error_rate"] == 0.0
    assert document["error_summary"] == []
    assert document["throughput_rps"] > 0
    run = document["run"]
    assert (run["git_sha"], run["engine"], run["concurrency"], run["requests"]) == (
        "abc123",
        "reference",
        3,
        12,
    )
    assert document["testbed"]["cpu_count"] >= 1
    assert document["testbed"]["cpu_probe_ms"] > 0
    assert document["testbed"]["cpu_probe_spread"] >= 0
    assert document["testbed"]["tools"]["httpx"]
    records = _records(tmp_path)
    assert [r.index for r in records] == list(range(12))
    assert all(r.ok and r.chunks >= 1 and r.bytes == 9600 for r in records)
    assert all(r.audio_seconds == pytest.approx(0.2) for r in records)  # 9,600 bytes of 24 kHz PCM16
    assert records[0].utterance == "short-0"
    assert records[2].utterance.startswith("long-")


def test_agent_turns_are_timed_from_their_events(reference: ReferenceFactory, tmp_path: Path) -> None:
    with reference(delay_ms=20, chunks=3, interval_ms=2) as server:
        argv = ["run", "--target", "agent", "--url", server.url, "--requests", "10", "--concurrency", "2"]
        assert main([*argv, "--out", str(tmp_path)]) == EXIT_OK
    results = load_results(tmp_path / "results.json")
    assert results.error_rate == 0.0
    # The injected 20 ms before the first text and audio events shows up (accuracy: bench-overhead.py).
    for name in ("ttfa_ms", "ttft_ms"):
        lowest, p50 = results.metrics[name].min, results.metrics[name].p50
        assert lowest is not None
        assert p50 is not None
        assert lowest >= 20.0, name
        assert p50 < 20.0 * 5, name
    assert results.metrics["audio_seconds"].p50 == pytest.approx(0.3)  # three 100 ms chunks, base64-decoded
    for name in ("server_llm_ttft_ms", "server_tts_ttfb_ms", "server_turn_ttfa_ms", "server_turn_e2e_ms"):
        assert results.metrics[name].count == 10, name


def test_failures_are_counted_and_named(reference: ReferenceFactory, tmp_path: Path) -> None:
    with reference(fail_every=4) as server:
        argv = ["run", "--target", "tts", "--url", server.url, "--requests", "20", "--warmup", "0"]
        assert main([*argv, "--out", str(tmp_path)]) == EXIT_OK
    results = load_results(tmp_path / "results.json")
    assert (results.failed, results.error_rate) == (5, 0.25)
    [error] = results.error_summary
    assert (error.type, error.code, error.count) == ("http_error", "500", 5)
    assert error.message == "injected: injected failure"
    assert results.metrics["ttfa_ms"].count == 15  # metrics only from the successful requests


def test_a_slow_service_times_out_per_request(reference: ReferenceFactory, tmp_path: Path) -> None:
    with reference(delay_ms=30_000) as server:
        argv = ["run", "--target", "tts", "--url", server.url, "--requests", "2", "--concurrency", "2"]
        assert main([*argv, "--warmup", "0", "--timeout", "0.3", "--out", str(tmp_path)]) == EXIT_OK
    results = load_results(tmp_path / "results.json")
    assert results.error_rate == 1.0
    assert [(e.type, e.count) for e in results.error_summary] == [("timeout", 2)]
    assert results.run.wall_s < 30.0 / 2  # the per-request timeout ended it, not the server


def test_a_dead_service_gives_an_error_rate_of_one_not_a_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    for target, protocol in (("tts", "http"), ("tts", "ws"), ("agent", "http")):
        out = tmp_path / f"{target}-{protocol}"
        argv = ["run", "--target", target, "--protocol", protocol, "--url", url, "--requests", "4"]
        assert main([*argv, "--out", str(out)]) == EXIT_OK
        results = load_results(out / "results.json")
        assert (results.requests, results.error_rate, results.throughput_rps) == (4, 1.0, 0.0)
        [error] = results.error_summary
        assert (error.type, error.count) == ("connect_error", 4), error
        assert results.metrics["ttfa_ms"].count == 0
        assert results.metrics["ttfa_ms"].p50 is None
        assert results.run.engine is None
        assert results.run.service is None
    assert "4 x connect_error" in capsys.readouterr().err


def test_a_run_bounded_by_duration(reference: ReferenceFactory, tmp_path: Path) -> None:
    with reference(delay_ms=10) as server:
        argv = ["run", "--target", "tts", "--url", server.url, "--duration", "0.5", "--concurrency", "2"]
        assert main([*argv, "--out", str(tmp_path)]) == EXIT_OK
    results = load_results(tmp_path / "results.json")
    assert results.run.requests is None
    assert results.run.duration_s == 0.5
    # Each request takes at least 10 ms: at most 0.5 s / 10 ms per worker, plus the ones in flight.
    assert 1 <= results.requests <= 2 * (50 + 1)
    assert results.run.wall_s >= 0.5
    assert results.run.wall_s < 0.5 * 20  # it stopped by itself, not at a test timeout


def test_the_console_script_prints_progress_lines_when_not_on_a_terminal(
    reference: ReferenceFactory, tmp_path: Path
) -> None:
    with reference(delay_ms=1) as server:
        script = str(Path(sys.executable).parent / "vibevoice-bench")
        argv = ["run", "--target", "tts", "--url", server.url, "--requests", "10", "--out", str(tmp_path)]
        done = subprocess.run([script, *argv], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert "1/10 requests, 0 failed" in lines[0]
    assert "\r" not in done.stderr
    assert any(line.startswith("tts/http: 10 requests, 0 failed, ttfa_ms p50") for line in lines)
    assert (tmp_path / "results.json").exists()
    assert len(_records(tmp_path)) == 10
