"""Service overhead benchmark: what the TTS and agent services add to time to first audio (TTFA).

Real processes on loopback: `vibevoice-tts --engine espeak` and, in front of it, `vibevoice-agent
--llm scripted` (no token delay). The floor is espeak-ng run by this script with the engine's own
command line (`espeak_command`): `raw warm`, one started beforehand and waiting on stdin (given 50 ms
to load its voice), timed from its text written to its first audio byte on stdout, which is what the
service's warm pool can reach; and `raw`, a cold one, timed from its spawn. Each sample runs one of
every probe, in a random order, so the comparison is paired request by request:
  tts c=1, c=4  raw, raw warm, then a `pcm` request to the TTS for the same text (request sent → first
                body byte); the service adds `tts - queue - raw warm`, where `queue` is the wait for a
                slot the service reports (`X-Queue-Ms`), so at c=4 the figure is "beyond queue wait".
  agent c=1     the agent's first sentence ("Here is what I heard." with the scripted LLM) straight to
                the TTS with the agent's voice, and a turn to the agent (request sent → first `event:
                audio`); the agent adds `agent - tts`.
The client speaks HTTP/1.1 itself (h11 over one keep-alive connection per worker), so the client's
own parsing is not counted against the service.

`--baseline-src DIR` also starts a TTS and an agent from another checkout's `src` (a `git worktree` of
an older commit) on other ports and adds them to every sample: before and after, side by side, in one run.
`--tts-args` and `--baseline-tts-args` add flags to either TTS. The TTS keeps one espeak-ng per slot
started and waiting for its text by default (its warm pool), so `raw warm` is its floor;
`--baseline-src src --baseline-tts-args="--espeak-warm 0"` sets it beside the same service with each
request starting its own espeak-ng (whose floor is `raw`: the JSON has both differences).

    .venv/bin/python scripts/bench-services.py [--requests 200] [--out overhead.json]
        [--baseline-src /tmp/base/src] [--baseline-tts-args="--espeak-warm 0"]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import h11
import httpx
import numpy as np
from anyio.abc import SocketStream

from vibevoice_platform.agent.llm.scripted import scripted_reply
from vibevoice_platform.audio import WAV_HEADER_SIZE
from vibevoice_platform.text import SentenceChunker
from vibevoice_platform.tts.engines.espeak import ALIASES, espeak_command

TEXT = "Hello, this is a latency test of the speech service."
AGENT_VOICE = "alloy"  # the agent's default voice
TTS_VOICE = "en-us"  # the TTS's default voice
Sample = dict[str, float]
Probe = Callable[[], Awaitable[Sample]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running(module: str, args: list[str], src: Path | None) -> Iterator[int]:
    """A service (`python -m module`) on a free port, from `src` if given; yields the port."""
    port = free_port()
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    command = [sys.executable, "-m", module, *args, "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise SystemExit(f"{module} did not become ready")
            time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(15)


class Client:
    """One keep-alive HTTP/1.1 connection; `post` times a request to the first byte that counts.

    A connection idle for longer than `IDLE_S` is replaced before the request (not timed): uvicorn
    closes one idle for 5 s, and on a loaded machine a sample's other probes can take that long.
    """

    IDLE_S = 4.0

    def __init__(self, port: int) -> None:
        self._port = port
        self._stream: SocketStream | None = None
        self._conn = h11.Connection(h11.CLIENT)
        self._used = 0.0

    async def post(
        self, path: str, body: dict[str, Any], marker: bytes = b""
    ) -> tuple[float, Mapping[str, str]]:
        """Seconds from sending the request to the first body bytes (that contain `marker`), and the
        response headers; reads the response to its end."""
        if self._stream is None or time.monotonic() - self._used > self.IDLE_S:
            if self._stream is not None:
                await self._stream.aclose()
            self._stream = await anyio.connect_tcp("127.0.0.1", self._port)
            self._conn = h11.Connection(h11.CLIENT)
        payload = json.dumps(body).encode()
        headers = [
            ("host", "127.0.0.1"),
            ("content-type", "application/json"),
            ("content-length", str(len(payload))),
        ]
        request = self._conn.send(h11.Request(method="POST", target=path, headers=headers))
        request += self._conn.send(h11.Data(data=payload)) + self._conn.send(h11.EndOfMessage())
        started = time.perf_counter()
        await self._stream.send(request)
        first: float | None = None
        seen = b""
        response: h11.Response | None = None
        while True:
            event = self._conn.next_event()
            if event is h11.NEED_DATA:
                self._conn.receive_data(await self._stream.receive(65536))
                continue
            if isinstance(event, h11.Response):
                response = event
            elif isinstance(event, h11.Data) and first is None:
                seen += event.data
                if marker in seen:
                    first = time.perf_counter()
            elif isinstance(event, h11.EndOfMessage):
                break
        self._conn.start_next_cycle()
        self._used = time.monotonic()
        assert response is not None, "no response"
        assert response.status_code == 200, response
        assert first is not None, f"no audio from {path}"
        return first - started, {k.decode(): v.decode() for k, v in response.headers}


async def raw_espeak(text: str, voice: str) -> float:
    """Seconds from spawning espeak-ng to its first audio byte (past the WAV header)."""
    return await _espeak_first_audio(text, voice, warm=False)


async def warm_espeak(text: str, voice: str) -> float:
    """Seconds from writing the text to an espeak-ng already started (and given time to load its
    voice) to its first audio byte."""
    return await _espeak_first_audio(text, voice, warm=True)


async def _espeak_first_audio(text: str, voice: str, *, warm: bool) -> float:
    """espeak-ng as the engine runs it; timed from its spawn, or (warm) from the text once it waits."""
    started = time.perf_counter()
    async with await anyio.open_process(
        espeak_command("espeak-ng", voice, 1.0), stderr=subprocess.DEVNULL
    ) as process:
        assert process.stdin is not None
        assert process.stdout is not None
        if warm:
            await anyio.sleep(0.05)
            started = time.perf_counter()
        first, got = None, 0
        await process.stdin.send(text.encode())
        await process.stdin.aclose()
        async for data in process.stdout:
            got += len(data)
            if first is None and got > WAV_HEADER_SIZE:
                first = time.perf_counter()
    assert first is not None, "espeak-ng wrote no audio"
    return first - started


@dataclass
class Services:
    """Ports of the TTS and agent under test, and of the baseline's (or None)."""

    tts: int
    agent: int
    base_tts: int | None
    base_agent: int | None


def first_sentence() -> str:
    """The first sentence the agent speaks for TEXT (the scripted LLM's reply, as the agent chunks it)."""
    chunker = SentenceChunker()
    sentences = [*chunker.feed(scripted_reply(TEXT)), *chunker.flush()]
    return sentences[0]


def tts_probes(services: Services) -> dict[str, Callable[[], Awaitable[Sample]]]:
    """One worker's probes for the TTS rows (each with its own connection)."""
    body = {"model": "tts-1", "input": TEXT, "response_format": "pcm"}

    def tts(port: int, name: str) -> Probe:
        client = Client(port)

        async def probe() -> Sample:
            seconds, headers = await client.post("/v1/audio/speech", body)
            return {
                name: seconds * 1000,
                f"{name}_queue": float(headers["x-queue-ms"]),
                f"{name}_engine": float(headers["x-engine-ttfa-ms"]),
            }

        return probe

    async def raw() -> Sample:
        return {"raw": await raw_espeak(TEXT, TTS_VOICE) * 1000}

    async def warm() -> Sample:
        return {"raw_warm": await warm_espeak(TEXT, TTS_VOICE) * 1000}

    probes = {"raw": raw, "raw_warm": warm, "tts": tts(services.tts, "tts")}
    if services.base_tts is not None:
        probes["base"] = tts(services.base_tts, "base")
    return probes


def agent_probes(services: Services) -> dict[str, Callable[[], Awaitable[Sample]]]:
    """One worker's probes for the agent row: the first sentence straight to the TTS, and a turn."""
    sentence = first_sentence()
    speech = {"model": "tts-1", "input": sentence, "voice": AGENT_VOICE, "response_format": "pcm"}

    def pair(tts_port: int, agent_port: int, prefix: str) -> dict[str, Probe]:
        tts_client, agent_client = Client(tts_port), Client(agent_port)

        async def tts() -> Sample:
            seconds, _ = await tts_client.post("/v1/audio/speech", speech)
            return {f"{prefix}tts": seconds * 1000}

        async def agent() -> Sample:
            seconds, _ = await agent_client.post("/v1/agent/turn", {"text": TEXT}, b"event: audio")
            return {f"{prefix}agent": seconds * 1000}

        return {f"{prefix}tts": tts, f"{prefix}agent": agent}

    async def raw() -> Sample:
        return {"raw": await raw_espeak(sentence, ALIASES[AGENT_VOICE]) * 1000}

    probes: dict[str, Probe] = {"raw": raw, **pair(services.tts, services.agent, "")}
    if services.base_tts is not None and services.base_agent is not None:
        probes.update(pair(services.base_tts, services.base_agent, "base_"))
    return probes


async def measure(
    samples: int, concurrency: int, make_probes: Callable[[], Mapping[str, Probe]], rng: random.Random
) -> list[Sample]:
    """`samples` samples from `concurrency` workers; each sample runs every probe once, shuffled."""
    results: list[Sample] = []

    async def worker() -> None:
        probes = list(make_probes().values())
        for _ in range(samples // concurrency):
            rng.shuffle(probes)
            sample: Sample = {}
            for probe in probes:
                sample.update(await probe())
            results.append(sample)

    async with anyio.create_task_group() as tg:
        for _ in range(concurrency):
            tg.start_soon(worker)
    return results


def stats(values: list[float]) -> dict[str, float]:
    p5, p50, p95 = (float(v) for v in np.percentile(values, [5, 50, 95]))
    return {"p5": p5, "p50": p50, "p95": p95}


def tts_row(concurrency: int, samples: list[Sample]) -> dict[str, Any]:
    """The TTS row: the floor, the service, and what it adds beyond its queue wait, paired."""
    row: dict[str, Any] = {"row": f"tts c={concurrency}", "n": len(samples)}
    row["raw"] = stats([s["raw"] for s in samples])
    row["raw_warm"] = stats([s["raw_warm"] for s in samples])
    for name in ("tts", "base"):
        if name in samples[0]:
            row[name] = stats([s[name] for s in samples])
            row[f"{name}_queue"] = stats([s[f"{name}_queue"] for s in samples])
            row[f"{name}_engine"] = stats([s[f"{name}_engine"] for s in samples])
            row[f"{name}_outside_engine"] = stats([s[name] - s[f"{name}_engine"] for s in samples])
            row[f"{name}_engine_over_raw"] = stats([s[f"{name}_engine"] - s["raw"] for s in samples])
            beyond_queue = [s[name] - s[f"{name}_queue"] for s in samples]
            row[f"{name}_added"] = stats(
                [b - s["raw_warm"] for b, s in zip(beyond_queue, samples, strict=True)]
            )
            row[f"{name}_added_cold"] = stats(
                [b - s["raw"] for b, s in zip(beyond_queue, samples, strict=True)]
            )
    row["samples"] = samples
    return row


def agent_row(samples: list[Sample]) -> dict[str, Any]:
    """The agent row: the agent against a direct TTS request for its first sentence, paired."""
    row: dict[str, Any] = {"row": "agent c=1", "n": len(samples), "raw": stats([s["raw"] for s in samples])}
    for prefix, name in (("", "tts"), ("base_", "base")):
        if f"{prefix}agent" in samples[0]:
            row[name] = stats([s[f"{prefix}agent"] for s in samples])
            row[f"{name}_added"] = stats([s[f"{prefix}agent"] - s[f"{prefix}tts"] for s in samples])
            row[f"{name}_direct_tts"] = stats([s[f"{prefix}tts"] for s in samples])
    row["samples"] = samples
    return row


def table(rows: list[dict[str, Any]]) -> str:
    """Markdown: per row, p50 / p95 in ms; 'adds' is the paired difference, p5 / p50 / p95 (its p5:
    what the service adds at the moments the machine lets every process run when it wakes)."""
    baseline = "base" in rows[0]
    head = "| row | n | raw espeak-ng (cold) | raw warm | service | queue | service adds |"
    rule = "|---|--:|--:|--:|--:|--:|--:|"
    if baseline:
        head += " baseline | baseline adds |"
        rule += "--:|--:|"
    lines = [head, rule]

    def adds(row: dict[str, Any], key: str) -> str:
        return f"{row[key]['p5']:.2f} / {cell(row, key)}" if key in row else "-"

    def cell(row: dict[str, Any], key: str) -> str:
        return f"{row[key]['p50']:.2f} / {row[key]['p95']:.2f}" if key in row else "-"

    for row in rows:
        line = (
            f"| {row['row']} | {row['n']} | {cell(row, 'raw')} | {cell(row, 'raw_warm')} "
            f"| {cell(row, 'tts')} | {cell(row, 'tts_queue')} | {adds(row, 'tts_added')} |"
        )
        if baseline:
            line += f" {cell(row, 'base')} | {adds(row, 'base_added')} |"
        lines.append(line)
    return "\n".join(lines)


def load_average() -> str:
    return ", ".join(f"{v:.2f}" for v in os.getloadavg())


async def run(services: Services, requests: int, seed: int) -> tuple[list[dict[str, Any]], dict[str, str]]:
    rng = random.Random(seed)  # noqa: S311 - the order of probes, not a secret
    loads = {"start": load_average()}
    await measure(20, 1, lambda: tts_probes(services), rng)  # warm-up
    await measure(10, 1, lambda: agent_probes(services), rng)
    rows = [
        tts_row(1, await measure(requests, 1, lambda: tts_probes(services), rng)),
        tts_row(4, await measure(requests, 4, lambda: tts_probes(services), rng)),
        agent_row(await measure(requests, 1, lambda: agent_probes(services), rng)),
    ]
    loads["end"] = load_average()
    return rows, loads


def main() -> int:
    parser = argparse.ArgumentParser(description="What the services add to time to first audio")
    parser.add_argument("--requests", type=int, default=200, help="samples per row")
    parser.add_argument("--seed", type=int, default=1, help="seed of the probes' order")
    parser.add_argument("--out", type=Path, help="write the rows and every sample as JSON here")
    parser.add_argument(
        "--baseline-src", type=Path, help="also measure the services from this `src` directory"
    )
    parser.add_argument("--tts-args", default="", help="more flags for the TTS under test")
    parser.add_argument("--baseline-tts-args", default="", help="more flags for the baseline's TTS")
    args = parser.parse_args()
    with ExitStack() as stack:
        tts_args = ["--engine", "espeak", *shlex.split(args.tts_args)]
        tts = stack.enter_context(running("vibevoice_platform.tts.cli", tts_args, None))
        agent_args = ["--llm", "scripted", "--tts-url", f"http://127.0.0.1:{tts}"]
        agent = stack.enter_context(running("vibevoice_platform.agent.cli", agent_args, None))
        base_tts = base_agent = None
        if args.baseline_src is not None:
            src = args.baseline_src.resolve()
            base_tts_args = ["--engine", "espeak", *shlex.split(args.baseline_tts_args)]
            base_tts = stack.enter_context(running("vibevoice_platform.tts.cli", base_tts_args, src))
            base_args = ["--llm", "scripted", "--tts-url", f"http://127.0.0.1:{base_tts}"]
            base_agent = stack.enter_context(running("vibevoice_platform.agent.cli", base_args, src))
        rows, loads = anyio.run(run, Services(tts, agent, base_tts, base_agent), args.requests, args.seed)
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
    print(f"TTS flags {args.tts_args or '(none)'}; baseline {args.baseline_src} {args.baseline_tts_args}")
    print(f"{machine}; load average at start {loads['start']}, at end {loads['end']}")
    print("p50 / p95 in ms ('adds': p5 / p50 / p95); 'adds' is paired per sample (tts: minus the queue")
    print("wait and raw warm espeak-ng; agent: minus a direct TTS request for its first sentence)\n")
    print(table(rows))
    agent = rows[-1]
    direct = [f"{agent[f'{n}_direct_tts']['p50']:.2f}" for n in ("tts", "base") if f"{n}_direct_tts" in agent]
    print(f"\nagent row: the direct TTS request for its first sentence, p50 {' / '.join(direct)} ms")
    if args.out is not None:
        args.out.write_text(json.dumps({"machine": machine, "load": loads, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
