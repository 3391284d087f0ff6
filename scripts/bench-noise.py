#!/usr/bin/env python3
"""The gate's sensitivity: which TTFA regressions it catches, and its false alarms, at the nightly settings.

The service is `vibevoice-tts --engine espeak` (the nightly image's engine) on loopback, measured by
`vibevoice-bench run` as the nightly measures its tts-http scenario (--requests, --concurrency,
--corpus, --warmup), each run seen through a delaying proxy: the proxy holds a response's first audio
until `factor` times what the service took to send it, a multiplicative regression of the first-audio
time injected outside the service. The unchanged build goes through the proxy too (factor 1, relayed
as it comes), so both sides pay the same relay.

1. Nights: --nights runs of the unchanged build, each gated against the last good one with the history,
   as the nightly chains them; the runs that pass make history.json.
2. Trials: --trials times, a baseline run of the unchanged build, then back to back, in an order that
   rotates from trial to trial, one more run of it and one run per --factors, each gated against that
   baseline with the history. A failing unchanged run is a false alarm; a failing slowed run, a catch.

Every verdict comes from the very function `vibevoice-bench compare` calls, under --policy (default:
the built-in one). Writes sweep.json and sweep.md to --out, the runs under --out/runs; `--rejudge DIR`
judges the runs of an earlier sweep again, under another --policy, without measuring anything.

    scripts/bench-noise.py --out DIR [--trials 15] [--nights 8] [--factors 1.1,1.25,1.5,2]
                           [--requests 200] [--concurrency 4] [--policy FILE] [--rejudge DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from vibevoice_platform.bench.compare import Verdict, compare
from vibevoice_platform.bench.history import History, appended, entry_for
from vibevoice_platform.bench.policy import Policy, load_policy
from vibevoice_platform.bench.results import load_results

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.support.processes import free_port, running  # noqa: E402  (the repo's process helper)

ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
CONTROL = "unchanged"
GOAL = 14  # catches of 15 trials that count as "caught"


# --- the delaying proxy --------------------------------------------------------------------------


def _content_length(head: bytes) -> int | None:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return None


def _chunked(head: bytes) -> bool:
    return any(
        line.partition(b":")[0].strip().lower() == b"transfer-encoding" and b"chunked" in line.lower()
        for line in head.split(b"\r\n")[1:]
    )


async def _pieces(reader: asyncio.StreamReader, head: bytes, out: asyncio.Queue[bytes | None]) -> None:
    """Put a response body's bytes on `out` as they arrive (framing included), then None."""
    if _chunked(head):
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0].strip(), 16)
            if size == 0:
                trailer = b""
                while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
                    trailer += line
                await out.put(size_line + trailer + b"\r\n")
                break
            await out.put(size_line + await reader.readexactly(size + 2))
    else:
        left = _content_length(head) or 0
        while left > 0:
            data = await reader.read(min(left, 65536))
            if not data:
                raise ConnectionError("upstream closed mid-body")
            left -= len(data)
            await out.put(data)
    await out.put(None)


class DelayProxy:
    """HTTP/1.1 keep-alive relay that makes each response's first body bytes `factor` times later."""

    def __init__(self, upstream_port: int, factor: float) -> None:
        self.upstream_port, self.factor = upstream_port, factor

    async def handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        """Relay requests one at a time (no pipelining, as the bench's client sends them)."""
        up_r, up_w = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        try:
            while True:
                head = await client_r.readuntil(b"\r\n\r\n")
                body = await client_r.readexactly(_content_length(head) or 0)
                sent = time.perf_counter()
                up_w.write(head + body)
                response_head = await up_r.readuntil(b"\r\n\r\n")
                client_w.write(response_head)
                await self._relay_body(up_r, response_head, client_w, sent)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            up_w.close()
            client_w.close()

    async def _relay_body(
        self, up_r: asyncio.StreamReader, head: bytes, client_w: asyncio.StreamWriter, sent: float
    ) -> None:
        pieces: asyncio.Queue[bytes | None] = asyncio.Queue()
        reading = asyncio.ensure_future(_pieces(up_r, head, pieces))
        first = True
        while (piece := await pieces.get()) is not None:
            if first:
                first = False
                arrived = time.perf_counter()
                await asyncio.sleep(max(0.0, sent + self.factor * (arrived - sent) - time.perf_counter()))
            client_w.write(piece)
            await client_w.drain()
        await reading


@contextmanager
def proxies(upstream_port: int, factors: Sequence[float]) -> Iterator[dict[float, str]]:
    """One delaying proxy per factor on loopback, served by an event loop in a thread; their URLs."""
    loop = asyncio.new_event_loop()
    ports = {factor: free_port() for factor in factors}

    async def serve() -> list[asyncio.Server]:
        return [
            await asyncio.start_server(DelayProxy(upstream_port, factor).handle, "127.0.0.1", port)
            for factor, port in ports.items()
        ]

    servers = loop.run_until_complete(serve())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield {factor: f"http://127.0.0.1:{port}" for factor, port in ports.items()}
    finally:
        for server in servers:
            loop.call_soon_threadsafe(server.close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


# --- measuring -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    """How each run drives the service: the nightly's tts-http settings by default."""

    requests: int
    concurrency: int
    corpus: str
    warmup: int | None


@dataclass(frozen=True)
class Planned:
    """One run of the sweep: its folder under runs/, what it is, and how it went."""

    name: str
    kind: str  # "night", "baseline", CONTROL or a factor's label
    trial: int | None
    factor: float
    wall_s: float = 0.0  # the whole `vibevoice-bench run` command, start-up included
    load1: float = 0.0  # the 1-minute load average as it ended


def label(factor: float) -> str:
    return CONTROL if factor == 1 else f"{factor:g}x"


def plan(nights: int, trials: int, factors: Sequence[float]) -> list[Planned]:
    """The runs in the order they are measured: nights, then trials with a rotating order."""
    runs = [Planned(f"night-{n:02d}", "night", None, 1.0) for n in range(nights)]
    kinds = [1.0, *factors]
    for trial in range(trials):
        runs.append(Planned(f"trial-{trial:02d}-baseline", "baseline", trial, 1.0))
        shift = trial % len(kinds)
        for factor in kinds[shift:] + kinds[:shift]:
            runs.append(Planned(f"trial-{trial:02d}-{label(factor)}", label(factor), trial, factor))
    return runs


def measure(runs: Sequence[Planned], load: Load, out: Path) -> list[Planned]:
    """Start the service and the proxies, make every run; each run's wall time and load average."""
    done: list[Planned] = []
    port = free_port()
    command = ["vibevoice-tts", "--engine", "espeak", "--port", str(port)]
    with ExitStack() as stack:
        stack.enter_context(running(command, port=port))
        urls = stack.enter_context(proxies(port, sorted({r.factor for r in runs})))
        for number, run in enumerate(runs, 1):
            argv = [
                "vibevoice-bench", "run", "--target", "tts", "--url", urls[run.factor],
                "--requests", str(load.requests), "--concurrency", str(load.concurrency),
                "--corpus", load.corpus, "--git-sha", "0" * 40, "--out", str(out / run.name),
            ]  # fmt: skip
            if load.warmup is not None:
                argv += ["--warmup", str(load.warmup)]
            started = time.perf_counter()
            code = subprocess.run(argv, env=ENV, capture_output=True, check=False).returncode
            if code != 0:
                raise SystemExit(f"vibevoice-bench run exited {code} for {run.name}")
            wall = round(time.perf_counter() - started, 3)
            done.append(Planned(run.name, run.kind, run.trial, run.factor, wall, os.getloadavg()[0]))
            print(
                f"[{number}/{len(runs)}] {run.name}: {wall:.1f} s, load {done[-1].load1:.2f}", file=sys.stderr
            )
    return done


# --- judging -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Judged:
    """One gate's verdict on a trial's run."""

    trial: int
    kind: str
    verdict: str
    failed: list[str]  # the checks that failed
    ttfa_p50_ratio: float  # this run's TTFA p50 over its baseline's


def judge(runs: Sequence[Planned], folder: Path, policy: Policy) -> tuple[int, list[Judged]]:
    """Chain the nights into a history as the nightly does, then gate every trial against its baseline;
    (nights that passed, verdicts)."""
    extra = [check.statistic for check in policy.checks]
    history, last, passed = History(), None, 0
    for run in (r for r in runs if r.kind == "night"):
        current = load_results(folder / run.name / "results.json")
        if compare(last, current, policy, history).verdict is not Verdict.FAIL:
            passed += 1
            last = current
            history = appended(history, entry_for(current, extra), policy.history.max_runs)
    judged: list[Judged] = []
    for run in runs:
        if run.trial is None or run.kind == "baseline":
            continue
        baseline = load_results(folder / f"trial-{run.trial:02d}-baseline" / "results.json")
        current = load_results(folder / run.name / "results.json")
        comparison = compare(baseline, current, policy, history)
        failed = [f"{c.metric} {c.statistic}" for c in comparison.checks if c.verdict is Verdict.FAIL]
        ratio = current.metrics["ttfa_ms"].p50 / baseline.metrics["ttfa_ms"].p50  # type: ignore[operator]
        judged.append(Judged(run.trial, run.kind, str(comparison.verdict), failed, round(ratio, 4)))
    return passed, judged


def table(judged: Sequence[Judged], kinds: Sequence[str]) -> list[dict[str, object]]:
    """Per kind: trials, fails (false alarms for the unchanged build, catches otherwise), warnings,
    and the median TTFA p50 ratio it showed."""
    rows: list[dict[str, object]] = []
    for kind in kinds:
        mine = [j for j in judged if j.kind == kind]
        ratio = round(statistics.median(j.ttfa_p50_ratio for j in mine), 3) if mine else None
        rows.append({
            "kind": kind,
            "trials": len(mine),
            "failed": sum(j.verdict == "fail" for j in mine),
            "warned": sum(j.verdict == "warn" for j in mine),
            "ttfa_p50_ratio_median": ratio,
        })  # fmt: skip
    return rows


def markdown(report: dict[str, object], rows: Sequence[dict[str, object]]) -> str:
    """The sweep as a Markdown table with its settings."""
    lines = [
        "| regression | caught (gate fails) | warned | TTFA p50, run / baseline (median) |",
        "|:--|--:|--:|--:|",
    ]
    for row in rows:
        kind, trials, failed = row["kind"], row["trials"], row["failed"]
        what = f"{failed}/{trials} false alarms" if kind == CONTROL else f"{failed}/{trials}"
        lines.append(f"| {kind} | {what} | {row['warned']}/{trials} | {row['ttfa_p50_ratio_median']} |")
    smallest = report["smallest_caught"]
    lines += [
        "",
        f"Smallest regression caught in {GOAL} of {report['trials']} trials: {smallest or 'none'}"
        f" (false alarms {report['false_alarms']}/{report['trials']}).",
        f"Settings: {report['settings']}; history: {report['nights_passed']} of {report['nights']} nights.",
        f"Per run (the whole `vibevoice-bench run`): median {report['run_wall_s_median']} s, max "
        f"{report['run_wall_s_max']} s; 1-minute load average {report['load1']}.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    """Measure (or re-read) the runs, judge them, write sweep.json and sweep.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, required=True, help="folder for sweep.json, sweep.md, runs/")
    parser.add_argument("--trials", type=int, default=15)
    parser.add_argument("--nights", type=int, default=8, help="runs that build the history first")
    parser.add_argument("--factors", default="1.1,1.25,1.5,2", help="TTFA regressions, comma-separated")
    parser.add_argument("--requests", type=int, default=200, help="per run (the nightly's: 200)")
    parser.add_argument("--concurrency", type=int, default=4, help="(the nightly's: 4)")
    parser.add_argument("--corpus", default="mixed", help="(the nightly's: mixed)")
    parser.add_argument("--warmup", type=int, help="unrecorded requests first (default: the concurrency)")
    parser.add_argument("--policy", type=Path, help="regression policy (default: the built-in one)")
    parser.add_argument("--rejudge", type=Path, help="an earlier sweep's --out: judge its runs again")
    args = parser.parse_args()
    factors = [float(f) for f in args.factors.split(",")]
    policy = load_policy(args.policy)
    out: Path = args.out
    if args.rejudge is not None:
        earlier = json.loads((args.rejudge / "sweep.json").read_text(encoding="utf-8"))
        runs = [Planned(**r) for r in earlier["runs"]]
        folder, settings = args.rejudge / "runs", earlier["settings"]
    else:
        load = Load(args.requests, args.concurrency, args.corpus, args.warmup)
        folder, settings = out / "runs", load.__dict__
        runs = measure(plan(args.nights, args.trials, factors), load, folder)
    passed, judged = judge(runs, folder, policy)
    kinds = [CONTROL, *dict.fromkeys(r.kind for r in runs if r.kind not in ("night", "baseline", CONTROL))]
    rows = table(judged, kinds)
    trials = max((r.trial for r in runs if r.trial is not None), default=-1) + 1
    false_alarms = next(int(str(r["failed"])) for r in rows if r["kind"] == CONTROL)
    caught = [str(r["kind"]) for r in rows if r["kind"] != CONTROL and int(str(r["failed"])) >= GOAL]
    walls = [r.wall_s for r in runs]
    loads = sorted(r.load1 for r in runs)
    report: dict[str, object] = {
        "settings": settings,
        "policy": policy.model_dump(mode="json"),
        "trials": trials,
        "nights": sum(r.kind == "night" for r in runs),
        "nights_passed": passed,
        "false_alarms": false_alarms,
        "smallest_caught": caught[0] if caught and false_alarms == 0 else None,
        "table": rows,
        "run_wall_s_median": round(statistics.median(walls), 2),
        "run_wall_s_max": round(max(walls), 2),
        "load1": {"min": loads[0], "median": statistics.median(loads), "max": loads[-1]},
        "verdicts": [j.__dict__ for j in judged],
        "runs": [r.__dict__ for r in runs],
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "sweep.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    text = markdown(report, rows)
    (out / "sweep.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
