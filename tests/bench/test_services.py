"""`vibevoice-bench` against the real services: the TTS (sine and espeak-ng engines) and the agent.

The sine engine makes timing a setting: its first 100 ms chunk comes after 100 ms / pace, so a server
at pace 1 answers in about 100 ms and one at pace 0.25 in about 400 ms, a 4x slower time to first
audio. Delays of that size keep the verdicts about the mechanism: the milliseconds a busy neighbour adds
on a shared 2-core machine stay well inside the gate's thresholds.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.support.processes import Service, free_port, running, wait_for
from vibevoice_platform.bench.cli import EXIT_ERROR, EXIT_OK, EXIT_REGRESSION, main
from vibevoice_platform.bench.compare import Comparison
from vibevoice_platform.bench.records import RequestRecord
from vibevoice_platform.bench.results import Results, load_results

pytestmark = pytest.mark.integration

TEXTS = ("Hi.", "Okay.", "Yes, sure.", "Thanks!", "Good night.")  # one or two 100 ms chunks each


def _sine(pace: float, *extra: str) -> Iterator[Service]:
    port = free_port()
    command = ["vibevoice-tts", "--engine", "sine", "--sine-pace", f"{pace:g}", "--port", str(port), *extra]
    with running(command, port=port) as service:
        yield service


@pytest.fixture(scope="module")
def sine_fast() -> Iterator[Service]:
    """TTFA about 100 ms."""
    yield from _sine(1, "--max-concurrency", "8")


@pytest.fixture(scope="module")
def sine_slow() -> Iterator[Service]:
    """TTFA about 400 ms: the same service 4x slower to first audio."""
    yield from _sine(0.25, "--max-concurrency", "8")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "texts.txt"
    path.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    return path


def _run(url: str, out: Path, *flags: str) -> Results:
    assert main(["run", "--url", url, "--out", str(out), *flags]) == EXIT_OK
    return load_results(out / "results.json")


def _compare(baseline: Path, current: Path, out: Path) -> tuple[int, Comparison]:
    code = main(["compare", "--baseline", str(baseline), "--current", str(current), "--out", str(out)])
    return code, Comparison.model_validate_json((out / "comparison.json").read_text())


def test_two_runs_of_one_build_pass_and_a_4x_slower_ttfa_fails(
    sine_fast: Service, sine_slow: Service, corpus: Path, tmp_path: Path
) -> None:
    flags = ["--target", "tts", "--requests", "30", "--concurrency", "2", "--corpus-file", str(corpus)]
    first = _run(sine_fast.url, tmp_path / "first", *flags)
    assert first.error_rate == 0.0
    assert first.run.engine == "sine"
    _run(sine_fast.url, tmp_path / "second", *flags)
    _run(sine_slow.url, tmp_path / "slow", *flags)
    baseline = tmp_path / "first" / "results.json"

    code, same = _compare(baseline, tmp_path / "second" / "results.json", tmp_path / "cmp-same")
    assert code == EXIT_OK, [(c.metric, c.statistic, c.reason) for c in same.checks]
    assert same.verdict in ("pass", "warn")
    assert (tmp_path / "cmp-same" / "baseline.json").exists()

    code, slow = _compare(baseline, tmp_path / "slow" / "results.json", tmp_path / "cmp-slow")
    assert code == EXIT_REGRESSION
    assert slow.verdict == "fail"
    ttfa = next(c for c in slow.checks if (c.metric, c.statistic) == ("ttfa_ms", "p50"))
    assert ttfa.verdict == "fail"
    assert ttfa.significant
    assert ttfa.relative is not None
    assert 1.0 < ttfa.relative < 6.0  # 100 ms against 25 ms is +300 %; load on the machine blurs it
    summary = (tmp_path / "cmp-slow" / "summary.md").read_text()
    assert "| ttfa_ms p50 |" in summary
    assert "❌ fail" in summary
    assert not (tmp_path / "cmp-slow" / "baseline.json").exists()


def test_run_against_pairs_two_builds_and_fails_the_4x_slower_one(
    sine_fast: Service, sine_slow: Service, corpus: Path, tmp_path: Path
) -> None:
    out = tmp_path / "ab"
    argv = ["run", "--target", "tts", "--url", sine_slow.url, "--against", sine_fast.url, "--requests", "12"]
    argv += ["--concurrency", "2", "--corpus-file", str(corpus), "--against-git-sha", "b" * 40]
    assert main([*argv, "--out", str(out)]) == EXIT_REGRESSION
    comparison = Comparison.model_validate_json((out / "comparison.json").read_text())
    assert comparison.pairs == 12
    ttfa = next(c for c in comparison.checks if (c.metric, c.statistic) == ("ttfa_ms", "p50"))
    assert ttfa.verdict == "fail"
    assert "of the pairs" in ttfa.reason
    head, base = load_results(out / "results.json"), load_results(out / "against" / "results.json")
    assert (head.run.url, head.run.paired_with) == (sine_slow.url, sine_fast.url)
    assert (base.run.url, base.run.paired_with, base.run.git_sha) == (sine_fast.url, sine_slow.url, "b" * 40)
    # both local: each side's CPU comes from its own process
    assert head.run.cpu_source == f"proc:{sine_slow.process.pid}"
    assert base.run.cpu_source == f"proc:{sine_fast.process.pid}"
    assert head.metrics["cpu_ms_per_request"].count >= 2
    indices = [
        sorted(
            RequestRecord.model_validate_json(line).index
            for line in (folder / "requests.jsonl").read_text().splitlines()
        )
        for folder in (out, out / "against")
    ]
    assert indices[0] == indices[1] == list(range(12))
    assert "Measured interleaved in one run: 12 pairs" in (out / "summary.md").read_text()


def test_run_against_a_cpu_regression_fails_its_cpu_check(corpus: Path, tmp_path: Path) -> None:
    """CPU time, not wall time: 40 ms of CPU a request against none is plain under any load."""
    with _sine_first_cpu(0) as base, _sine_first_cpu(40) as head:
        argv = ["run", "--target", "tts", "--url", head.url, "--against", base.url, "--requests", "20"]
        argv += ["--cpu-window", "2", "--corpus-file", str(corpus), "--out", str(tmp_path)]
        assert main(argv) == EXIT_REGRESSION
    comparison = Comparison.model_validate_json((tmp_path / "comparison.json").read_text())
    cpu = next(c for c in comparison.checks if c.metric == "cpu_ms_per_request")
    assert cpu.verdict == "fail"
    assert cpu.change is not None
    assert cpu.change > 30


def test_run_against_a_dead_baseline_is_an_error(sine_fast: Service, corpus: Path, tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    argv = ["run", "--target", "tts", "--url", sine_fast.url, "--against", dead, "--requests", "4"]
    assert main([*argv, "--corpus-file", str(corpus), "--out", str(tmp_path)]) == EXIT_ERROR
    assert load_results(tmp_path / "against" / "results.json").error_rate == 1.0
    assert not (tmp_path / "comparison.json").exists()


@contextmanager
def _sine_first_cpu(ms: float) -> Iterator[Service]:
    port = free_port()
    command = ["vibevoice-tts", "--engine", "sine", "--sine-first-cpu-ms", f"{ms:g}", "--port", str(port)]
    with running(command, port=port) as service:
        yield service


def test_http_and_websocket_audio_matches_the_text(sine_fast: Service, corpus: Path, tmp_path: Path) -> None:
    for protocol in ("http", "ws"):
        out = tmp_path / protocol
        flags = ["--target", "tts", "--protocol", protocol, "--requests", "10", "--corpus-file", str(corpus)]
        results = _run(sine_fast.url, out, *flags)
        assert results.error_rate == 0.0, results.error_summary
        lines = (out / "requests.jsonl").read_text().splitlines()
        records = [RequestRecord.model_validate_json(line) for line in lines]
        for record in records:
            # the sine engine speaks 50 ms per character, at least one 100 ms chunk
            assert record.audio_seconds == pytest.approx(max(0.1, record.chars * 0.05), abs=1e-3)
            assert record.ttfa_ms is not None
            assert record.e2e_latency_ms is not None
            assert 100.0 * 0.95 <= record.ttfa_ms <= record.e2e_latency_ms  # the first chunk's 100 ms
        if protocol == "ws":
            assert results.metrics["setup_ms"].count == 10
        else:
            assert results.metrics["server_ttfa_ms"].count == 10


def test_an_overloaded_service_is_named_in_the_errors(tmp_path: Path) -> None:
    port = free_port()
    command = ["vibevoice-tts", "--engine", "sine", "--sine-pace", "1", "--port", str(port)]
    with running([*command, "--max-concurrency", "1", "--max-queue", "0"], port=port) as service:
        flags = [
            "--target",
            "tts",
            "--requests",
            "6",
            "--concurrency",
            "3",
            "--warmup",
            "0",
            "--corpus",
            "short",
        ]
        results = _run(service.url, tmp_path, *flags)
    assert 0 < results.error_rate < 1
    overload = next(e for e in results.error_summary if e.code == "429")
    assert overload.type == "http_error"
    assert overload.message.startswith("server_overloaded: ")


@pytest.mark.usefixtures("espeak_ng")
def test_espeak_over_http_and_websocket(tts_espeak: Service, tmp_path: Path) -> None:
    for protocol in ("http", "ws"):
        flags = ["--target", "tts", "--protocol", protocol, "--requests", "6", "--concurrency", "2"]
        results = _run(tts_espeak.url, tmp_path / protocol, *flags)
        assert results.error_rate == 0.0, results.error_summary
        assert results.run.engine == "espeak"
        audio = results.metrics["audio_seconds"]
        assert audio.min is not None
        assert audio.min > 0.5
        rtf = results.metrics["rtf"]
        assert rtf.max is not None
        assert rtf.max < 1.0


def test_agent_turns_against_the_real_agent(sine_fast: Service, tmp_path: Path) -> None:
    port = free_port()
    command = ["vibevoice-agent", "--llm", "scripted", "--tts-url", sine_fast.url, "--port", str(port)]
    with running(command, port=port, env={"VIBEVOICE_AGENT_SCRIPTED_TOKEN_DELAY_MS": "5"}) as agent:
        flags = ["--target", "agent", "--requests", "6", "--concurrency", "2", "--corpus", "short"]
        results = _run(agent.url, tmp_path, *flags)
    assert results.error_rate == 0.0, results.error_summary
    ttft, ttfa, e2e = (results.metrics[name].p50 for name in ("ttft_ms", "ttfa_ms", "e2e_latency_ms"))
    assert ttft is not None
    assert ttfa is not None
    assert e2e is not None
    assert ttft < ttfa < e2e
    assert results.metrics["audio_seconds"].min is not None
    assert results.metrics["audio_seconds"].min > 0.5
    for name in ("server_llm_ttft_ms", "server_tts_ttfb_ms", "server_turn_ttfa_ms", "server_turn_e2e_ms"):
        assert results.metrics[name].count == 6, name
    # the client sees the agent's first audio no earlier than the agent reports sending it
    server_ttfa = results.metrics["server_turn_ttfa_ms"].p50
    assert server_ttfa is not None
    assert ttfa >= server_ttfa


def test_a_target_that_dies_midway_fails_the_gate_and_becomes_no_baseline(
    sine_fast: Service, corpus: Path, tmp_path: Path
) -> None:
    flags = ["--target", "tts", "--requests", "20", "--concurrency", "1", "--corpus-file", str(corpus)]
    good = _run(sine_fast.url, tmp_path / "good", *flags)
    assert good.error_rate == 0.0
    port = free_port()
    command = ["vibevoice-tts", "--engine", "sine", "--sine-pace", "1", "--port", str(port)]
    with running(command, port=port) as dying:
        out = tmp_path / "dying"
        bench = str(Path(sys.executable).parent / "vibevoice-bench")
        argv = [bench, "run", "--url", dying.url, "--out", str(out), *flags]
        with subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as run:
            # Once it has answered a few requests, the service goes away in the middle of the run.
            assert wait_for(lambda: _answered(dying) >= 3), "the service answered nothing"
            dying.process.kill()
            assert run.wait(timeout=120) == EXIT_OK
    results = load_results(out / "results.json")
    assert 0 < results.error_rate < 1
    assert {e.type for e in results.error_summary} <= {"connect_error", "transport_error", "protocol_error"}
    code, comparison = _compare(tmp_path / "good" / "results.json", out / "results.json", tmp_path / "cmp")
    assert code == EXIT_REGRESSION
    assert comparison.verdict == "fail"
    assert not (tmp_path / "cmp" / "baseline.json").exists()


def _answered(service: Service) -> float:
    metrics = httpx.get(f"{service.url}/metrics").text
    counts = [
        line.rsplit(" ", 1)[1]
        for line in metrics.splitlines()
        if line.startswith("vibevoice_tts_requests_total{")
    ]
    return sum(float(count) for count in counts)
