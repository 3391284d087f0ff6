#!/usr/bin/env python3
"""How often the gate fails a build that did not change: back-to-back runs, without and with history.

The sine TTS engine stands in for a runner whose speed moves: at pace p its 100 ms chunks take
100 / p ms, so a machine `s` times slower is the engine at pace BASE_PACE / s.

1. History: `--nights` runs, each on a machine whose slowdown is drawn (seeded) from SPEEDS, each
   gated against the last good one with `compare --history`, as the nightly workflow chains them;
   the runs that pass make history.json.
2. Pairs: `--pairs` back-to-back runs of the same build, the second on a machine `--shift` times
   slower than the first (and as many control pairs on one machine), each second run gated against
   its first twice: without `--history` (the first phase's gate) and with the history of part 1.
   Every fail is a false failure: the build is the same.
3. The same for pairs whose second run is a real regression (`--regression`, 4x slower first audio):
   every pass there is a miss.

    scripts/bench-noise.py [--nights 8] [--pairs 5] [--shift 1.4] [--requests 100] [--seed 1]

Uses the default policy (TTFA and latency at p50 and p95). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.support.processes import Service, free_port, running  # noqa: E402  (the repo's process helper)

BASE_PACE = 4.0  # the fastest machine: a 100 ms chunk every 25 ms
SPEEDS = (1.0, 1.1, 1.2, 1.3, 1.4)  # how much slower a night's machine is
TEXTS = ("Hi.", "Ok.", "Yes.", "Sure!", "Hello.")  # two or three chunks each
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def bench(*argv: str) -> int:
    """vibevoice-bench with its output kept off the terminal; its exit code."""
    return subprocess.run(["vibevoice-bench", *argv], env=ENV, capture_output=True, check=False).returncode


class Runner:
    """Runs and gates against the sine TTS of each machine speed."""

    def __init__(self, machines: dict[float, Service], corpus: Path, work: Path, requests: int) -> None:
        self.machines, self.corpus, self.work, self.requests = machines, corpus, work, requests
        self.count = 0

    def run(self, speed: float) -> Path:
        """One run on a machine `speed` times slower than the fastest; its folder."""
        self.count += 1
        out = self.work / f"run-{self.count:03d}"
        code = bench(
            "run", "--target", "tts", "--url", self.machines[speed].url, "--requests", str(self.requests),
            "--concurrency", "2", "--corpus-file", str(self.corpus), "--out", str(out),
        )  # fmt: skip
        if code != 0:
            raise SystemExit(f"vibevoice-bench run exited {code}")
        return out

    def gate(self, baseline: Path, current: Path, history: Path | None, out: Path) -> str:
        """compare's verdict for `current` against `baseline` (and `history`)."""
        argv = ["compare", "--baseline", str(baseline), "--current", str(current / "results.json")]
        argv += ["--out", str(out), *(["--history", str(history)] if history else [])]
        if bench(*argv) not in (0, 1):
            raise SystemExit(f"vibevoice-bench compare failed: {argv}")
        comparison = json.loads((out / "comparison.json").read_text())
        failed = [f"{c['metric']} {c['statistic']}" for c in comparison["checks"] if c["verdict"] == "fail"]
        return str(comparison["verdict"]) + (f" ({', '.join(failed)})" if failed else "")


def ttfa_p50(run: Path) -> float:
    return float(json.loads((run / "results.json").read_text())["metrics"]["ttfa_ms"]["p50"])


def main() -> None:
    """Build a history, then gate back-to-back pairs with and without it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--nights", type=int, default=8)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument(
        "--shift", type=float, default=1.4, help="the second run's machine is this much slower"
    )
    parser.add_argument("--regression", type=float, default=4.0, help="a real regression: this much slower")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)  # noqa: S311 - a reproducible draw of machine speeds, not a secret
    with tempfile.TemporaryDirectory(prefix="bench-noise-") as tmp, ExitStack() as stack:
        work = Path(tmp)
        corpus = work / "texts.txt"
        corpus.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
        machines: dict[float, Service] = {}
        for speed in sorted({*SPEEDS, args.shift, args.regression}):
            port = free_port()
            command = ["vibevoice-tts", "--engine", "sine", "--sine-pace", f"{BASE_PACE / speed:g}"]
            command += ["--port", str(port), "--max-concurrency", "8"]
            machines[speed] = stack.enter_context(running(command, port=port))
        runner = Runner(machines, corpus, work, args.requests)

        last: Path | None = None
        passed = 0
        for night in range(args.nights):
            current = runner.run(rng.choice(SPEEDS))
            out = work / f"night-{night}"
            baseline = (last / "baseline.json") if last else work / "none.json"
            history = (last / "history.json") if last else work / "none-history.json"
            if not runner.gate(baseline, current, history, out).startswith("fail"):
                passed += 1
                last = out
        if last is None:
            raise SystemExit("no night passed: no history to use")
        history = last / "history.json"
        print(f"History: {passed} of {args.nights} nights passed into history.json (slowdowns {SPEEDS}).\n")

        print("| pair | machines | TTFA p50 first / second | without history | with history |")
        print("|:--|:--|--:|:--|:--|")
        kinds = {"shifted": args.shift, "control": 1.0, "regressed": args.regression}
        failures = {kind: [0, 0] for kind in kinds}
        for kind, shift in kinds.items():
            for pair in range(args.pairs):
                first, second = runner.run(1.0), runner.run(shift)
                verdicts = [
                    runner.gate(first / "results.json", second, None, work / f"{kind}-{pair}-alone"),
                    runner.gate(first / "results.json", second, history, work / f"{kind}-{pair}-history"),
                ]
                for mode, verdict in enumerate(verdicts):
                    failures[kind][mode] += verdict.startswith("fail")
                print(
                    f"| {kind} {pair + 1} | 1.0x then {shift:g}x | {ttfa_p50(first):.1f} / "
                    f"{ttfa_p50(second):.1f} ms | {verdicts[0]} | {verdicts[1]} |"
                )
        print()
        for kind, (alone, judged) in failures.items():
            what = "regressions caught" if kind == "regressed" else "false failures"
            print(f"{kind}: {alone}/{args.pairs} {what} without history, {judged}/{args.pairs} with it")


if __name__ == "__main__":
    main()
