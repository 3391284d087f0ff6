"""Soak and hostile-client benchmark of both services, as real processes on loopback.

Starts `vibevoice-tts --engine espeak` and `vibevoice-agent --llm scripted` in front of it, then:

  soak     for --minutes at --concurrency, workers mix TTS HTTP (pcm, wav, SSE), TTS WebSocket,
           agent SSE and agent WebSocket turns (every other one interrupted after its first audio).
           Every few seconds each service's RSS, open fds and threads are read from /proc. Reports
           responses by kind and status (goal: only ok and 429 / overloaded), TTFA p50/p99 of the first
           window after warm-up and of the last one, RSS/fds/threads after warm-up, at their largest and
           after the load, and the espeak-ng processes left over: those still speaking after the load
           (goal: none), those waiting for their text (the TTS's warm pool, at most one per slot), and
           any of either that outlived the TTS's SIGTERM (goal: none).
  hostile  a quiet run of a well-behaved client (TTS HTTP and agent SSE turns, one at a time), then each
           hostile scenario while that client keeps measuring: slowloris connections, idle WebSockets,
           clients that never read their stream, 10 MB bodies, 100,000-character inputs, invalid UTF-8
           and binary frames, WebSocket floods. Reports what each hostile client got (status or close
           code), what the well-behaved client was served and its TTFA, and RSS/fds before and after.

Prints Markdown tables; --json FILE writes the figures. The figures depend on the machine and on what
else runs on it: say what the load was when quoting them.

    .venv/bin/python scripts/soak.py soak [--minutes 10] [--concurrency 16]
    .venv/bin/python scripts/soak.py hostile [--scenarios slowloris,idle-ws,...]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.processes import bytes_written, child_pids, free_port
from vibevoice_platform.bench.stats import summarize

BIN = Path(sys.executable).parent
SENTENCES = (
    "Hello there, how are you today?",
    "The weather on the coast is fine for sailing this afternoon.",
    "Please call me back when you have a moment.",
    "Streaming speech starts before the whole sentence is spoken.",
)
LONG_TEXT = "This sentence is spoken again and again to make a long stream of speech. " * 50
OK, OVERLOADED = "ok", "429"
SCENARIOS = ("slowloris", "idle-ws", "non-reader", "big-body", "long-input", "bad-frames", "ws-flood")


# --- processes and /proc -----------------------------------------------------------------------


@dataclass
class Proc:
    """A started service."""

    name: str
    process: subprocess.Popen[bytes]
    url: str
    port: int
    log: Path


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url}: exited with {process.returncode}:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} was not ready within 60 s")


@contextmanager
def services(tts_flags: list[str], agent_flags: list[str]) -> Iterator[tuple[Proc, Proc]]:
    """Both services, started and ready; stopped (SIGTERM, then SIGKILL) however the run ends."""
    started: list[Proc] = []
    try:
        for name, flags in (("tts", tts_flags), ("agent", agent_flags)):
            port = free_port()
            command = {
                "tts": ["vibevoice-tts", "--engine", "espeak"],
                "agent": [
                    "vibevoice-agent",
                    "--llm",
                    "scripted",
                    "--tts-url",
                    started[0].url if started else "",
                ],
            }[name]
            executable = BIN / command[0]
            argv = [str(executable) if executable.exists() else command[0], *command[1:], "--port", str(port)]
            log = Path(tempfile.mkstemp(prefix=f"soak-{name}-", suffix=".log")[1])
            with log.open("wb") as sink:
                process = subprocess.Popen([*argv, *flags], stdout=sink, stderr=subprocess.STDOUT)
            proc = Proc(name, process, f"http://127.0.0.1:{port}", port, log)
            started.append(proc)
            _wait_ready(proc.url, process, log)
        yield started[0], started[1]
    finally:
        for proc in reversed(started):
            proc.process.terminate()
            try:
                proc.process.wait(15)
            except subprocess.TimeoutExpired:
                proc.process.kill()
                proc.process.wait()


def sample(pid: int) -> dict[str, int]:
    """RSS (KiB), open fds and threads of a process, from /proc."""
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return {
        "rss_kib": int(fields["VmRSS"].split()[0]),
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
        "threads": int(fields["Threads"]),
    }


def espeak_children(pid: int) -> dict[int, bool]:
    """Live espeak-ng processes whose parent is `pid`: pid → whether it is speaking. One waiting for
    its text (the TTS's warm pool) has written nothing yet, not even its WAV header."""
    found: dict[int, bool] = {}
    for child, name in child_pids(pid).items():
        if name.startswith("espeak"):
            with contextlib.suppress(OSError):  # it exited since it was listed
                found[child] = bytes_written(child) > 0
    return found


def still_running(pids: Iterable[int]) -> int:
    """How many of `pids` still run as espeak-ng (zombies aside)."""
    count = 0
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            name = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
        count += state != "Z" and name.startswith("espeak")
    return count


class Sampler:
    """Samples both services every `every_s` seconds in a thread, with the time of each sample."""

    def __init__(self, procs: tuple[Proc, Proc], every_s: float) -> None:
        self._procs = procs
        self._every = every_s
        self.samples: list[tuple[float, str, dict[str, int]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            for proc in self._procs:
                self.samples.append((now, proc.name, sample(proc.process.pid)))
            self._stop.wait(self._every)

    def peak(self, name: str, key: str) -> int:
        return max((s[key] for _, n, s in self.samples if n == name), default=0)


def settle(procs: tuple[Proc, Proc], baseline: dict[str, dict[str, int]], timeout_s: float) -> None:
    """Wait (up to `timeout_s`) for the fds of each service to come back to `baseline`, probing /ready
    as an orchestrator would (the agent's probe uses its pool of TTS connections, which drops those
    the TTS has closed only when it is next used)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for proc in procs:
            httpx.get(f"{proc.url}/ready", timeout=5)
        if all(sample(p.process.pid)["fds"] <= baseline[p.name]["fds"] for p in procs):
            return
        time.sleep(0.5)


# --- clients -----------------------------------------------------------------------------------


@dataclass
class Outcome:
    """One request or session: kind, start (monotonic), TTFA in ms (None without audio), status."""

    kind: str
    started: float
    ttfa_ms: float | None
    status: str


def _status(code: int) -> str:
    return OK if code == 200 else str(code)


async def tts_http(client: httpx.AsyncClient, url: str, text: str, fmt: str) -> Outcome:
    """TTS HTTP in `fmt` (pcm, wav) or `sse`; TTFA is the first body byte (first delta for SSE)."""
    body: dict[str, Any] = {
        "model": "tts-1",
        "input": text,
        "response_format": "pcm" if fmt == "sse" else fmt,
    }
    if fmt == "sse":
        body["stream_format"] = "sse"
    started = time.monotonic()
    ttfa: float | None = None
    async with client.stream("POST", f"{url}/v1/audio/speech", json=body) as response:
        if response.status_code != 200:
            await response.aread()
            return Outcome(f"tts-{fmt}", started, None, _status(response.status_code))
        async for chunk in response.aiter_raw():
            if ttfa is None and chunk and (fmt != "sse" or b"speech.audio.delta" in chunk):
                ttfa = (time.monotonic() - started) * 1000
            if fmt == "sse" and b'"type": "error"' in chunk:
                return Outcome("tts-sse", started, ttfa, "sse-error")
    return Outcome(f"tts-{fmt}", started, ttfa, OK)


async def tts_ws(url: str, text: str) -> Outcome:
    """One TTS WebSocket session: start, text, end; TTFA is the first binary frame."""
    started = time.monotonic()
    ttfa: float | None = None
    async with connect(url.replace("http://", "ws://") + "/v1/audio/stream") as ws:
        await ws.send(json.dumps({"type": "start"}))
        await ws.send(json.dumps({"type": "text", "text": text}))
        await ws.send(json.dumps({"type": "end"}))
        try:
            async for frame in ws:
                if isinstance(frame, bytes) and ttfa is None:
                    ttfa = (time.monotonic() - started) * 1000
        except ConnectionClosed:
            pass
    code = ws.close_code
    status = OK if code == 1000 else OVERLOADED if code == 1013 else f"close-{code}"
    return Outcome("tts-ws", started, ttfa, status)


def _agent_error(code: str) -> str:
    return OVERLOADED if code in ("tts_overloaded", "overloaded", "rate_limit_exceeded") else code


async def agent_sse(client: httpx.AsyncClient, url: str, text: str) -> Outcome:
    """One agent turn over SSE; TTFA is the first `audio` event."""
    started = time.monotonic()
    ttfa: float | None = None
    status = OK
    async with client.stream("POST", f"{url}/v1/agent/turn", json={"text": text}) as response:
        if response.status_code != 200:
            await response.aread()
            return Outcome("agent-sse", started, None, _status(response.status_code))
        event = ""
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
                if event == "audio" and ttfa is None:
                    ttfa = (time.monotonic() - started) * 1000
            elif line.startswith("data: ") and event == "error":
                status = _agent_error(json.loads(line[6:])["code"])
    return Outcome("agent-sse", started, ttfa, status)


async def agent_ws(url: str, text: str, interrupt: bool) -> Outcome:
    """One agent WebSocket turn, interrupted after its first audio when `interrupt`."""
    kind = "agent-ws-interrupt" if interrupt else "agent-ws"
    started = time.monotonic()
    ttfa: float | None = None
    status = OK
    async with connect(url.replace("http://", "ws://") + "/v1/agent/ws") as ws:
        await ws.send(json.dumps({"type": "user.text", "text": text}))
        async for frame in ws:
            if isinstance(frame, bytes):
                if ttfa is None:
                    ttfa = (time.monotonic() - started) * 1000
                    if interrupt:
                        await ws.send(json.dumps({"type": "interrupt"}))
                continue
            message = json.loads(frame)
            if message["type"] == "error":
                status = _agent_error(message["code"])
            elif message["type"] == "response.done":
                break
    return Outcome(kind, started, ttfa, status)


Request = Callable[[int], Awaitable[Outcome]]


def request_mix(client: httpx.AsyncClient, tts: str, agent: str) -> list[Request]:
    """The soak's request kinds, each a function of the worker's round (to vary the text)."""

    def text(i: int) -> str:
        return SENTENCES[i % len(SENTENCES)]

    return [
        lambda i: tts_http(client, tts, text(i), "pcm"),
        lambda i: tts_http(client, tts, text(i), "wav"),
        lambda i: tts_http(client, tts, text(i), "sse"),
        lambda i: tts_ws(tts, text(i)),
        lambda i: agent_sse(client, agent, text(i)),
        lambda i: agent_ws(agent, f"{text(i)} {text(i + 1)}", interrupt=i % 2 == 0),
    ]


async def run_workers(requests: list[Request], concurrency: int, duration_s: float) -> list[Outcome]:
    """`concurrency` workers, each cycling through `requests`, until `duration_s` has passed."""
    outcomes: list[Outcome] = []
    end = time.monotonic() + duration_s

    async def worker(index: int) -> None:
        i = index
        while time.monotonic() < end:
            request = requests[i % len(requests)]
            started = time.monotonic()
            try:
                outcomes.append(await asyncio.wait_for(request(i // len(requests)), timeout=60))
            except (httpx.HTTPError, OSError, ConnectionClosed, TimeoutError) as exc:
                outcomes.append(Outcome(f"kind{i % len(requests)}", started, None, type(exc).__name__))
            i += 1

    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return outcomes


def ttfa_summary(values: list[float]) -> dict[str, float | None]:
    """p50, p99 (None when there are none) and the count, by the benchmark's own statistics."""
    summary = summarize(values)
    return {
        "p50": None if summary is None else summary.p50,
        "p99": None if summary is None else summary.p99,
        "n": len(values),
    }


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


# --- soak --------------------------------------------------------------------------------------


@dataclass
class SoakReport:
    minutes: float
    concurrency: int
    responses: dict[str, dict[str, int]]
    ttfa_first_ms: dict[str, float | None]
    ttfa_last_ms: dict[str, float | None]
    resources: dict[str, dict[str, dict[str, int]]]
    espeak_left: int
    espeak_waiting: int
    espeak_after_stop: int
    loadavg: tuple[float, float, float] = field(default_factory=os.getloadavg)


def soak(minutes: float, concurrency: int, warmup_s: float, sample_s: float) -> SoakReport:
    """Run the soak (see the module docstring) and return its figures."""
    duration = minutes * 60
    window = min(60.0, max(5.0, (duration - warmup_s) / 3))
    with services([], []) as (tts, agent):
        procs = (tts, agent)
        before = {p.name: sample(p.process.pid) for p in procs}
        with Sampler(procs, sample_s) as sampler:

            async def main() -> list[Outcome]:
                limits = httpx.Limits(max_connections=concurrency * 2)
                async with httpx.AsyncClient(timeout=60, limits=limits) as client:
                    return await run_workers(request_mix(client, tts.url, agent.url), concurrency, duration)

            began = time.monotonic()
            outcomes = asyncio.run(main())
        after_warmup = {
            p.name: next(
                (s for t, n, s in sampler.samples if n == p.name and t >= began + warmup_s), before[p.name]
            )
            for p in procs
        }
        settle(procs, before, 20)
        time.sleep(1)
        after = {p.name: sample(p.process.pid) for p in procs}
        espeak = espeak_children(tts.process.pid)
        peaks = {p.name: {k: sampler.peak(p.name, k) for k in ("rss_kib", "fds", "threads")} for p in procs}
    end = began + duration
    first = [
        o.ttfa_ms
        for o in outcomes
        if o.ttfa_ms is not None and began + warmup_s <= o.started < began + warmup_s + window
    ]
    last = [o.ttfa_ms for o in outcomes if o.ttfa_ms is not None and end - window <= o.started]
    responses: dict[str, Counter[str]] = {}
    for outcome in outcomes:
        responses.setdefault(outcome.kind, Counter())[outcome.status] += 1
    return SoakReport(
        minutes=minutes,
        concurrency=concurrency,
        responses={k: dict(v) for k, v in sorted(responses.items())},
        ttfa_first_ms=ttfa_summary(first),
        ttfa_last_ms=ttfa_summary(last),
        resources={
            name: {
                "before": before[name],
                "after_warmup": after_warmup[name],
                "peak": peaks[name],
                "after": after[name],
            }
            for name in before
        },
        espeak_left=sum(espeak.values()),
        espeak_waiting=len(espeak) - sum(espeak.values()),
        espeak_after_stop=still_running(espeak),
    )


def print_soak(report: SoakReport) -> None:
    print(
        f"## Soak: {report.minutes:g} min at concurrency {report.concurrency} (load average at the end "
        f"{report.loadavg[0]:.2f})\n"
    )
    print("| kind | " + " | ".join(["ok", "429", "other"]) + " |\n|---|---:|---:|---|")
    for kind, counts in report.responses.items():
        other = ", ".join(f"{k}: {v}" for k, v in counts.items() if k not in (OK, OVERLOADED)) or "0"
        print(f"| {kind} | {counts.get(OK, 0)} | {counts.get(OVERLOADED, 0)} | {other} |")
    print("\n| TTFA (ms, all kinds) | p50 | p99 | n |\n|---|---:|---:|---:|")
    for label, figures in (
        ("first window after warm-up", report.ttfa_first_ms),
        ("last window", report.ttfa_last_ms),
    ):
        print(f"| {label} | {_ms(figures['p50'])} | {_ms(figures['p99'])} | {figures['n']} |")
    print("\n| service | | RSS MiB | fds | threads |\n|---|---|---:|---:|---:|")
    for name, stages in report.resources.items():
        for stage, figures in stages.items():
            print(
                f"| {name} | {stage} | {figures['rss_kib'] / 1024:.1f} | {figures['fds']} "
                f"| {figures['threads']} |"
            )
    print(
        f"\nespeak-ng processes left over: {report.espeak_left} speaking, {report.espeak_waiting} waiting "
        f"for their text (the warm pool); after SIGTERM: {report.espeak_after_stop}"
    )


# --- hostile -----------------------------------------------------------------------------------


@dataclass
class ScenarioReport:
    scenario: str
    hostile: dict[str, int]
    served: dict[str, int]
    errors: int
    ttfa_p50_ms: dict[str, float | None]
    resources: dict[str, dict[str, dict[str, int]]]


class Stop(Protocol):
    """A threading or multiprocessing Event, as far as the client reads it."""

    def is_set(self) -> bool: ...


class WellBehaved:
    """One client, one request at a time: a TTS HTTP request, then an agent SSE turn, and so on.

    It runs in a process of its own (`well_behaved`), so the hostile clients do not delay it.
    """

    def __init__(self, tts: str, agent: str) -> None:
        self._tts, self._agent = tts, agent

    async def run(self, stop: Stop) -> list[Outcome]:
        """Requests until `stop` is set; what each got."""
        outcomes: list[Outcome] = []
        async with httpx.AsyncClient(timeout=30) as client:
            i = 0
            while not stop.is_set():
                started = time.monotonic()
                try:
                    if i % 2 == 0:
                        outcome = await tts_http(client, self._tts, SENTENCES[i % len(SENTENCES)], "pcm")
                    else:
                        outcome = await agent_sse(client, self._agent, SENTENCES[i % len(SENTENCES)])
                except (httpx.HTTPError, OSError) as exc:
                    outcome = Outcome(
                        "tts-pcm" if i % 2 == 0 else "agent-sse", started, None, type(exc).__name__
                    )
                outcomes.append(outcome)
                i += 1
                await asyncio.sleep(0.05)
        return outcomes


def well_behaved(tts: str, agent: str, stop: Stop, results: multiprocessing.Queue[list[Outcome]]) -> None:
    """The well-behaved client's process: requests until `stop`, then its outcomes on `results`."""
    results.put(asyncio.run(WellBehaved(tts, agent).run(stop)))


async def _read_all(reader: asyncio.StreamReader, wait_s: float) -> bytes:
    try:
        return await asyncio.wait_for(reader.read(), wait_s)
    except (TimeoutError, ConnectionError):
        return b""


def _request_head(path: str, length: int) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


def _rss_fds(figures: dict[str, int]) -> str:
    return f"{figures['rss_kib'] / 1024:.0f} / {figures['fds']}"


async def _guarded(outcome: Awaitable[str]) -> str:
    """What one hostile client got, or the error it ended with."""
    try:
        return await outcome
    except (OSError, ConnectionClosed, TimeoutError, httpx.HTTPError) as exc:
        return type(exc).__name__


def _http_status(raw: bytes) -> str:
    parts = raw.split(b" ", 2)
    return parts[1].decode() if raw.startswith(b"HTTP/") and len(parts) > 1 else "no answer"


async def slowloris(tts: Proc, count: int, hold_s: float) -> Counter[str]:
    """`count` connections dribbling header bytes once a second; what each got."""
    request = (
        b"POST /v1/audio/speech HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Pad: " + b"a" * 400
    )

    async def one() -> str:
        reader, writer = await asyncio.open_connection("127.0.0.1", tts.port)
        try:
            deadline = time.monotonic() + hold_s
            for byte in request:
                if time.monotonic() > deadline or reader.at_eof():
                    break
                try:
                    writer.write(bytes([byte]))
                    await writer.drain()
                except ConnectionError:
                    break
                try:
                    data = await asyncio.wait_for(reader.read(65536), 1.0)
                except TimeoutError:
                    continue
                return _http_status(data + await _read_all(reader, 5))
            return _http_status(await _read_all(reader, 5))
        finally:
            writer.close()

    return Counter(await asyncio.gather(*(_guarded(one()) for _ in range(count))))


async def _status_line(reader: asyncio.StreamReader, wait_s: float) -> bytes:
    try:
        return await asyncio.wait_for(reader.readline(), wait_s)
    except (TimeoutError, ConnectionError):
        return b""


async def _close_code(ws: ClientConnection, wait_s: float) -> str:
    try:
        await asyncio.wait_for(ws.wait_closed(), wait_s)
    except TimeoutError:
        return "still open"
    close = ws.protocol.close_rcvd
    return f"close {close.code}" if close else "closed without a frame"


async def idle_websockets(procs: tuple[Proc, Proc], count: int, hold_s: float) -> Counter[str]:
    """`count` WebSockets to each service that send nothing, held for `hold_s`."""
    urls = [procs[0].url + "/v1/audio/stream", procs[1].url + "/v1/agent/ws"]

    async def one(i: int) -> str:
        url = urls[i % 2].replace("http://", "ws://")
        async with connect(url, open_timeout=30) as ws:
            return await _close_code(ws, hold_s)

    results = await asyncio.gather(*(_guarded(one(i)) for i in range(2 * count)))
    return Counter(f"{('tts', 'agent')[i % 2]}: {result}" for i, result in enumerate(results))


async def non_readers(tts: Proc, count: int, hold_s: float) -> Counter[str]:
    """`count` clients that ask for minutes of speech and never read it; held for `hold_s`."""
    body = json.dumps({"model": "tts-1", "response_format": "pcm", "speed": 0.5, "input": LONG_TEXT}).encode()
    head = _request_head("/v1/audio/speech", len(body))

    def one() -> str:
        with socket.create_connection(("127.0.0.1", tts.port)) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.sendall(head + body)
            first = sock.recv(1024)
            time.sleep(hold_s)  # never reads again
            return _http_status(first)

    results = await asyncio.gather(*(asyncio.to_thread(one) for _ in range(count)))
    async with httpx.AsyncClient() as client:
        metrics = (await client.get(f"{tts.url}/metrics")).text
    cut = sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("vibevoice_tts_requests_total") and 'status="cancelled"' in line
    )
    return Counter(results) + Counter({f"cancelled by the service (all so far): {cut:g}": 1})


async def big_bodies(procs: tuple[Proc, Proc], count: int) -> Counter[str]:
    """`count` 10 MB request bodies (alternately to each service); the status each got."""
    paths = [(procs[0].port, "/v1/audio/speech"), (procs[1].port, "/v1/agent/turn")]

    async def one(i: int) -> str:
        port, path = paths[i % 2]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        answer = asyncio.create_task(_status_line(reader, 30))  # it may come before the body is sent
        size = 10 * 1024 * 1024
        writer.write(_request_head(path, size))
        try:
            for _ in range(size // 65536):
                writer.write(b"a" * 65536)
                await writer.drain()
        except ConnectionError:
            pass
        raw = await answer
        writer.close()
        return f"{('tts', 'agent')[i % 2]}: {_http_status(raw)}"

    return Counter(await asyncio.gather(*(_guarded(one(i)) for i in range(count))))


async def long_inputs(procs: tuple[Proc, Proc], count: int) -> Counter[str]:
    """`count` requests with 100,000-character inputs (TTS speech, agent turn); the status each got."""
    text = "word " * 20_000
    async with httpx.AsyncClient(timeout=30) as client:
        results = await asyncio.gather(
            *(
                client.post(f"{procs[0].url}/v1/audio/speech", json={"model": "tts-1", "input": text})
                if i % 2 == 0
                else client.post(f"{procs[1].url}/v1/agent/turn", json={"text": text})
                for i in range(count)
            )
        )
    return Counter(str(r.status_code) for r in results)


async def bad_frames(procs: tuple[Proc, Proc], count: int) -> Counter[str]:
    """`count` sessions each sending invalid UTF-8, a binary frame or invalid JSON; how each ended."""
    urls = [procs[0].url + "/v1/audio/stream", procs[1].url + "/v1/agent/ws"]

    async def one(i: int) -> str:
        url = urls[i % 2].replace("http://", "ws://")
        async with connect(url, open_timeout=30) as ws:
            kind = ("utf8", "binary", "json")[i % 3]
            if kind == "utf8":
                await ws.send(b'{"type": "\xff\xfe"}', text=True)
            elif kind == "binary":
                await ws.send(b"\x00\x01\x02")
            else:
                await ws.send("{not json")
                reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if reply["type"] == "error" and ws.close_code is None:
                    await asyncio.sleep(
                        0.5
                    )  # an error message; the session goes on unless the service closes it
                    if ws.close_code is None:
                        return f"{kind}: error message, session goes on"
            return f"{kind}: {await _close_code(ws, 3)}"

    return Counter(await asyncio.gather(*(_guarded(one(i)) for i in range(count))))


async def _drain(ws: ClientConnection) -> None:
    try:
        async for _ in ws:
            pass
    except ConnectionClosed:
        pass


async def floods(procs: tuple[Proc, Proc], count: int) -> Counter[str]:
    """`count` sessions flooding `text` (TTS) or `user.text` (agent) messages; how each ended."""

    async def one(i: int) -> str:
        tts = i % 2 == 0
        url = (procs[0].url + "/v1/audio/stream" if tts else procs[1].url + "/v1/agent/ws").replace(
            "http://", "ws://"
        )
        async with connect(url, open_timeout=30) as ws:
            drain = asyncio.create_task(_drain(ws))  # reads what the service sends, so it sees the close
            if tts:
                await ws.send(json.dumps({"type": "start"}))
            message = json.dumps(
                {"type": "text", "text": "and so on "} if tts else {"type": "user.text", "text": "hi"}
            )
            sent = 0
            try:
                while sent < 100_000:
                    await ws.send(message)
                    sent += 1
                    if sent % 50 == 0:
                        await asyncio.sleep(0)  # let the other clients (and the measuring one) run
            except ConnectionClosed:
                pass
            result = f"{'tts' if tts else 'agent'}: {await _close_code(ws, 5)}"
            drain.cancel()
            return result

    return Counter(await asyncio.gather(*(_guarded(one(i)) for i in range(count))))


def scenarios(
    procs: tuple[Proc, Proc], send_timeout_s: float
) -> dict[str, Callable[[], Awaitable[Counter[str]]]]:
    return {
        "slowloris": lambda: slowloris(procs[0], 200, 20),
        "idle-ws": lambda: idle_websockets(procs, 500, 15),
        "non-reader": lambda: non_readers(procs[0], 4, send_timeout_s + 10),
        "big-body": lambda: big_bodies(procs, 20),
        "long-input": lambda: long_inputs(procs, 50),
        "bad-frames": lambda: bad_frames(procs, 60),
        "ws-flood": lambda: floods(procs, 20),
    }


def hostile(selected: list[str], quiet_s: float) -> list[ScenarioReport]:
    """The quiet run, then each selected scenario with the well-behaved client running beside it."""
    reports: list[ScenarioReport] = []
    with services([], []) as (tts, agent):
        procs = (tts, agent)
        spawn = multiprocessing.get_context("spawn")

        async def measured(name: str, scenario: Callable[[], Awaitable[Counter[str]]] | None) -> None:
            before = {p.name: sample(p.process.pid) for p in procs}
            stop, results = spawn.Event(), spawn.Queue()
            client = spawn.Process(target=well_behaved, args=(tts.url, agent.url, stop, results))
            client.start()
            hostile_counts: Counter[str] = Counter()
            began = time.monotonic()
            if scenario is None:
                await asyncio.sleep(quiet_s)
            while scenario is not None and time.monotonic() - began < quiet_s:  # repeated to last quiet_s
                try:
                    hostile_counts += await scenario()
                except Exception as exc:  # report the scenario's failure and go on to the next one
                    hostile_counts[f"scenario failed: {exc!r:.100}"] += 1
            stop.set()
            outcomes: list[Outcome] = await asyncio.to_thread(results.get)
            client.join()
            await asyncio.to_thread(settle, procs, before, 15)
            after = {p.name: sample(p.process.pid) for p in procs}
            ttfa = {
                kind: ttfa_summary([o.ttfa_ms for o in outcomes if o.kind == kind and o.ttfa_ms is not None])[
                    "p50"
                ]
                for kind in ("tts-pcm", "agent-sse")
            }
            served = Counter(o.status for o in outcomes)
            reports.append(
                report := ScenarioReport(
                    scenario=name,
                    hostile=dict(hostile_counts),
                    served=dict(served),
                    errors=sum(v for k, v in served.items() if k != OK),
                    ttfa_p50_ms=ttfa,
                    resources={p.name: {"before": before[p.name], "after": after[p.name]} for p in procs},
                )
            )
            print(hostile_row(report), file=sys.stderr, flush=True)  # progress, row by row

        async def main() -> None:
            await measured("quiet (no hostile client)", None)
            table = scenarios(procs, 30.0)
            for name in selected:
                await measured(name, table[name])

        asyncio.run(main())
        espeak = espeak_children(tts.process.pid)
    speaking = sum(espeak.values())
    print(
        f"espeak-ng processes left over at the end: {speaking} speaking, {len(espeak) - speaking} waiting "
        f"(the warm pool); after SIGTERM: {still_running(espeak)}",
        file=sys.stderr,
    )
    return reports


def hostile_row(r: ScenarioReport) -> str:
    """One scenario as a Markdown table row (see HOSTILE_HEADER)."""
    got = ", ".join(f"{k}: {v}" for k, v in sorted(r.hostile.items())) or "-"
    res = [f"{_rss_fds(s['before'])} → {_rss_fds(s['after'])}" for s in r.resources.values()]
    return (
        f"| {r.scenario} | {got} | {sum(r.served.values())} ({r.errors}) | {_ms(r.ttfa_p50_ms['tts-pcm'])} / "
        f"{_ms(r.ttfa_p50_ms['agent-sse'])} | {res[0]} | {res[1]} |"
    )


HOSTILE_HEADER = (
    "| scenario | what the hostile clients got | well-behaved served (errors) | TTFA p50 ms tts / agent "
    "| TTS RSS MiB / fds before → after | agent RSS MiB / fds before → after |\n|---|---|---|---|---|---|"
)


def print_hostile(reports: list[ScenarioReport]) -> None:
    print(f"## Hostile clients (load average at the end {os.getloadavg()[0]:.2f})\n")
    print(HOSTILE_HEADER)
    for report in reports:
        print(hostile_row(report))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    soak_parser = sub.add_parser("soak", help="mixed load for --minutes at --concurrency")
    soak_parser.add_argument("--minutes", type=float, default=10.0)
    soak_parser.add_argument("--concurrency", type=int, default=16)
    soak_parser.add_argument("--warmup-s", type=float, default=30.0, help="seconds before the first window")
    soak_parser.add_argument("--sample-s", type=float, default=3.0, help="seconds between /proc samples")
    soak_parser.add_argument("--json", type=Path, help="write the figures here too")
    hostile_parser = sub.add_parser("hostile", help="each hostile scenario beside a well-behaved client")
    hostile_parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    hostile_parser.add_argument("--quiet-s", type=float, default=10.0, help="length of the quiet run")
    hostile_parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args(argv)
    if args.command == "soak":
        report = soak(args.minutes, args.concurrency, args.warmup_s, args.sample_s)
        print_soak(report)
        figures: object = asdict(report)
    else:
        selected = [s for s in args.scenarios.split(",") if s]
        unknown = sorted(set(selected) - set(SCENARIOS))
        if unknown:
            parser.error(f"unknown scenarios {unknown}; known: {', '.join(SCENARIOS)}")
        reports = hostile(selected, args.quiet_s)
        print_hostile(reports)
        figures = [asdict(r) for r in reports]
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
