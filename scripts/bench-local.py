#!/usr/bin/env python3
"""`make bench`: the nightly benchmark against local processes, gated against the last local baseline.

Starts `vibevoice-tts --engine espeak` and `vibevoice-agent --llm scripted` on free loopback ports,
runs `vibevoice-bench run` for the TTS over HTTP and over the WebSocket and for agent turns, then
`vibevoice-bench compare` for each against bench-out/<scenario>/baseline.json (the first run becomes
the baseline). Exits 1 if any scenario regressed, 2 if the benchmark itself could not run.

    scripts/bench-local.py [--requests N] [--concurrency C] [--out DIR]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.support.processes import free_port, running  # noqa: E402  (the repo's process helper)

BENCH = Path(sys.executable).parent / "vibevoice-bench"
SCENARIOS = (("tts-http", "tts", "http"), ("tts-ws", "tts", "ws"), ("agent", "agent", "http"))


def main() -> int:
    """Start the services, run and compare each scenario, print each summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--out", type=Path, default=ROOT / "bench-out")
    args = parser.parse_args()
    tts_port, agent_port = free_port(), free_port()
    worst = 0
    with ExitStack() as stack:
        tts = stack.enter_context(
            running(["vibevoice-tts", "--engine", "espeak", "--port", str(tts_port)], port=tts_port)
        )
        agent = stack.enter_context(
            running(
                ["vibevoice-agent", "--llm", "scripted", "--tts-url", tts.url, "--port", str(agent_port)],
                port=agent_port,
            )
        )
        urls = {"tts": tts.url, "agent": agent.url}
        for name, target, protocol in SCENARIOS:
            out = args.out / name
            run = [
                str(BENCH), "run", "--target", target, "--protocol", protocol, "--url", urls[target],
                "--requests", str(args.requests), "--concurrency", str(args.concurrency), "--out", str(out),
            ]  # fmt: skip
            print(f"== {name}", file=sys.stderr, flush=True)
            if subprocess.run(run, check=False).returncode != 0:
                return 2
            compare = [
                str(BENCH), "compare", "--baseline", str(out / "baseline.json"),
                "--current", str(out / "results.json"), "--out", str(out),
            ]  # fmt: skip
            code = subprocess.run(compare, check=False).returncode
            print((out / "summary.md").read_text(encoding="utf-8"))
            worst = max(worst, code)
    return worst


if __name__ == "__main__":
    sys.exit(main())
