#!/usr/bin/env python3
"""Benchmarks of the benchmark: the load generator's own capacity, overhead and accuracy.

1. Against the reference server with no delay (a null streaming server: 4 chunks of 100 ms of PCM
   per response, nothing else), run the generator in this process for `--seconds` at concurrency
   1, 16 and 64: requests and streams per second it sustains, its CPU use (this process) and the
   server's (its own process), and the TTFA it sees, which is its floor on this machine.
2. Against the reference server with a 50 ms delay at concurrency 1: how far the measured TTFA p50
   is from the injected delay.
3. Against `vibevoice-tts --engine espeak`, a nightly-style run (mixed corpus) at concurrency 1 and 4.

    scripts/bench-overhead.py [--seconds 8] [--requests 100] [--json bench-out/overhead.json]

Prints a Markdown table per part; the figures depend on the machine (they state its CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import anyio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.support.processes import free_port, running  # noqa: E402  (the repo's process helper)
from vibevoice_platform.bench.corpus import CorpusChoice  # noqa: E402
from vibevoice_platform.bench.drivers import Protocol, Target, driver_for, open_session  # noqa: E402
from vibevoice_platform.bench.loadgen import Plan, execute  # noqa: E402
from vibevoice_platform.bench.results import aggregate_metrics  # noqa: E402
from vibevoice_platform.bench.testbed import describe_machine  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


async def _measure(url: str, concurrency: int, plan: Plan, corpus: CorpusChoice) -> dict[str, Any]:
    driver = driver_for(Target.TTS, Protocol.HTTP)
    async with open_session(
        url, concurrency=concurrency, timeout_s=plan.timeout_s, voice=None, model="tts-1"
    ) as s:
        outcome = await execute(s, driver, corpus.utterances(), plan, lambda _: None)
    metrics = aggregate_metrics(outcome.records)
    ok = [r for r in outcome.records if r.ok]
    return {
        "requests": len(outcome.records),
        "failed": len(outcome.records) - len(ok),
        "wall_s": outcome.wall_s,
        "chunks": sum(r.chunks for r in ok),
        "bytes": sum(r.bytes for r in ok),
        "metrics": {name: m.model_dump(exclude={"samples"}) for name, m in metrics.items()},
    }


def capacity(seconds: float) -> list[dict[str, Any]]:
    """Part 1: the null server at concurrency 1, 16, 64."""
    port = free_port()
    rows = []
    command = [sys.executable, "-m", "vibevoice_platform.bench.reference_server", "--port", str(port)]
    with running([*command, "--chunks", "4", "--chunk-bytes", "4800"], port=port) as server:
        for concurrency in (1, 16, 64):
            plan = Plan(
                requests=None, duration_s=seconds, concurrency=concurrency, warmup=concurrency, timeout_s=30
            )
            cpu0, server0 = time.process_time(), _cpu_seconds(server.process.pid)
            result = anyio.run(_measure, server.url, concurrency, plan, CorpusChoice.SHORT)
            cpu, server_cpu = time.process_time() - cpu0, _cpu_seconds(server.process.pid) - server0
            wall = result["wall_s"]
            rows.append(
                {
                    "concurrency": concurrency,
                    "requests_per_s": result["requests"] / wall,
                    "chunks_per_s": result["chunks"] / wall,
                    "mb_per_s": result["bytes"] / wall / 1e6,
                    "failed": result["failed"],
                    "generator_cpu_percent": 100 * cpu / wall,
                    "generator_cpu_ms_per_request": 1000 * cpu / max(1, result["requests"]),
                    "server_cpu_percent": 100 * server_cpu / wall,
                    "ttfa_ms": result["metrics"]["ttfa_ms"],
                }
            )
    return rows


def accuracy(requests: int) -> dict[str, Any]:
    """Part 2: a 50 ms injected delay, concurrency 1."""
    port = free_port()
    command = [sys.executable, "-m", "vibevoice_platform.bench.reference_server", "--port", str(port)]
    with running([*command, "--delay-ms", "50", "--chunks", "3"], port=port) as server:
        plan = Plan(requests=requests, duration_s=None, concurrency=1, warmup=5, timeout_s=30)
        result = anyio.run(_measure, server.url, 1, plan, CorpusChoice.SHORT)
    return {"injected_ms": 50.0, "ttfa_ms": result["metrics"]["ttfa_ms"]}


def espeak(requests: int) -> list[dict[str, Any]]:
    """Part 3: vibevoice-tts --engine espeak, mixed corpus, concurrency 1 and 4."""
    port = free_port()
    rows = []
    with running(["vibevoice-tts", "--engine", "espeak", "--port", str(port)], port=port) as tts:
        for concurrency in (1, 4):
            plan = Plan(
                requests=requests, duration_s=None, concurrency=concurrency, warmup=concurrency, timeout_s=60
            )
            result = anyio.run(_measure, tts.url, concurrency, plan, CorpusChoice.MIXED)
            rows.append({"concurrency": concurrency, **result})
    return rows


def _fmt(summary: dict[str, Any], *keys: str) -> str:
    return " / ".join("-" if summary.get(k) is None else f"{summary[k]:.2f}" for k in keys)


def main() -> int:
    """Run the three parts and print their tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=8.0, help="per concurrency level in part 1")
    parser.add_argument("--requests", type=int, default=100, help="per run in parts 2 and 3")
    parser.add_argument("--json", type=Path, default=ROOT / "bench-out" / "overhead.json")
    args = parser.parse_args()
    machine = describe_machine()
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"Machine: {machine.cpu_model}, {machine.cpu_count} CPUs, Python {machine.python}, load {load}")

    rows = capacity(args.seconds)
    print(
        "\n| concurrency | req/s | chunks/s | MB/s | gen. CPU | CPU ms/req | server CPU | TTFA p50/p99 ms |"
    )
    print("|--:|--:|--:|--:|--:|--:|--:|--:|")
    for r in rows:
        print(
            f"| {r['concurrency']} | {r['requests_per_s']:.0f} | {r['chunks_per_s']:.0f} "
            f"| {r['mb_per_s']:.1f} "
            f"| {r['generator_cpu_percent']:.0f} % | {r['generator_cpu_ms_per_request']:.2f} "
            f"| {r['server_cpu_percent']:.0f} % | {_fmt(r['ttfa_ms'], 'p50', 'p99')} |"
        )
    acc = accuracy(args.requests)
    print(f"\nInjected 50 ms: TTFA p50 / p90 / min {_fmt(acc['ttfa_ms'], 'p50', 'p90', 'min')} ms")

    tts = espeak(args.requests)
    print(
        "\n| espeak, concurrency | requests | failed | TTFA p50/p95 ms | e2e p50/p95 ms | RTF p50 | req/s |"
    )
    print("|--:|--:|--:|--:|--:|--:|--:|")
    for r in tts:
        m = r["metrics"]
        print(
            f"| {r['concurrency']} | {r['requests']} | {r['failed']} | {_fmt(m['ttfa_ms'], 'p50', 'p95')} "
            f"| {_fmt(m['e2e_latency_ms'], 'p50', 'p95')} | {_fmt(m['rtf'], 'p50')} "
            f"| {r['requests'] / r['wall_s']:.1f} |"
        )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    document = {"machine": machine.model_dump(), "capacity": rows, "accuracy": acc, "espeak": tts}
    args.json.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
