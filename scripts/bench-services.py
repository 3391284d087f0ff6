"""Service overhead benchmark: what the TTS and agent services add to time to first audio (TTFA).

Real processes on loopback: `vibevoice-tts --engine espeak` and, in front of it, `vibevoice-agent
--llm scripted` (no token delay). Each request is measured from both ends, so the comparison is
paired, request by request, in the same run:
  tts    client TTFA (request sent → first audio byte) against the engine's own time to first chunk
         for that request (`X-Engine-TTFA-Ms`: espeak-ng started → first resampled chunk) and the
         wait for a slot (`X-Queue-Ms`); the service adds client - engine - queue.
  agent  client TTFA (request sent → first `event: audio`) against the TTS TTFB the agent saw for
         that turn (the `metrics` event); the agent adds the difference (LLM, chunking, relaying).
Targets at concurrency 1, p50: the TTS service adds ≤ 3 ms, the agent ≤ 5 ms.

    .venv/bin/python scripts/bench-services.py [--requests 200]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import httpx
import numpy as np

TEXT = "Hello, this is a latency test of the speech service."
BIN = Path(sys.executable).parent
Sample = dict[str, float]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(command: list[str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    process.kill()
    raise SystemExit(f"{command[0]} did not become ready")


async def tts_request(client: httpx.AsyncClient, url: str) -> Sample:
    body = {"model": "tts-1", "input": TEXT, "response_format": "pcm"}
    started = time.perf_counter()
    first = None
    async with client.stream("POST", f"{url}/v1/audio/speech", json=body) as response:
        async for _ in response.aiter_raw():
            first = first or time.perf_counter()
    assert first is not None, "no audio"
    assert response.status_code == 200, response.status_code
    engine = float(response.headers["x-engine-ttfa-ms"])
    queue = float(response.headers["x-queue-ms"])
    client_ms = (first - started) * 1000
    return {"client": client_ms, "engine": engine, "queue": queue, "added": client_ms - engine - queue}


async def agent_request(client: httpx.AsyncClient, url: str) -> Sample:
    started = time.perf_counter()
    first, metrics, event = None, {}, ""
    async with client.stream("POST", f"{url}/v1/agent/turn", json={"text": TEXT}) as response:
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
                if event == "audio":
                    first = first or time.perf_counter()
            elif line.startswith("data: ") and event == "metrics":
                metrics = json.loads(line[6:])
    assert first is not None, "no audio"
    assert response.status_code == 200, response.status_code
    client_ms = (first - started) * 1000
    return {"client": client_ms, "tts": metrics["tts_ttfb_ms"], "added": client_ms - metrics["tts_ttfb_ms"]}


async def measure(requests: int, concurrency: int, probe: Callable[[], Awaitable[Sample]]) -> list[Sample]:
    samples: list[Sample] = []

    async def worker() -> None:
        for _ in range(requests // concurrency):
            samples.append(await probe())

    async with anyio.create_task_group() as tg:
        for _ in range(concurrency):
            tg.start_soon(worker)
    return samples


def summary(name: str, concurrency: int, samples: list[Sample]) -> str:
    parts = [f"c={concurrency} {name:5} n={len(samples)}"]
    for key in samples[0]:
        values = [s[key] for s in samples]
        parts.append(f"{key} p50 {np.percentile(values, 50):6.2f} p95 {np.percentile(values, 95):6.2f}")
    return " | ".join(parts) + " (ms)"


async def main_async(requests: int) -> None:
    tts_port, agent_port = free_port(), free_port()
    tts = start([str(BIN / "vibevoice-tts"), "--engine", "espeak", "--port", str(tts_port)], tts_port)
    tts_url = f"http://127.0.0.1:{tts_port}"
    agent_cmd = [
        str(BIN / "vibevoice-agent"),
        "--llm",
        "scripted",
        "--tts-url",
        tts_url,
        "--port",
        str(agent_port),
    ]
    agent = start(agent_cmd, agent_port)
    agent_url = f"http://127.0.0.1:{agent_port}"
    try:
        async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=8)) as client:
            await measure(20, 1, lambda: tts_request(client, tts_url))  # warm-up
            await measure(20, 1, lambda: agent_request(client, agent_url))
            machine = platform.processor() or platform.machine()
            print(f"# {machine}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
            for concurrency in (1, 4):
                print(
                    summary(
                        "tts",
                        concurrency,
                        await measure(requests, concurrency, lambda: tts_request(client, tts_url)),
                    )
                )
                print(
                    summary(
                        "agent",
                        concurrency,
                        await measure(requests, concurrency, lambda: agent_request(client, agent_url)),
                    )
                )
    finally:
        for process in (agent, tts):
            process.terminate()
            process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description="What the services add to time to first audio")
    parser.add_argument("--requests", type=int, default=200)
    anyio.run(main_async, parser.parse_args().requests)


if __name__ == "__main__":
    main()
