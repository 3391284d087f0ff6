#!/usr/bin/env python3
"""`make bench`: the nightly benchmark against local processes, gated against the last local run.

Starts `vibevoice-tts --engine espeak` and `vibevoice-agent --llm scripted` on free loopback ports and
runs the very command lines the pipeline's `bench` function runs (vibevoice_ci.bench): for each
scenario (TTS over HTTP, TTS over the WebSocket, agent turns) `vibevoice-bench run`, then
`vibevoice-bench compare` against DIR/<scenario>/baseline.json and history.json, which a passing run
replaces (the first run becomes the baseline; the history grows by one run per pass, so after a few
runs a change must also beat the spread this machine has shown). Exits 1 if any scenario regressed,
2 if the benchmark itself could not run.

    scripts/bench-local.py [--requests N] [--concurrency C] [--corpus short|long|mixed]
                           [--policy FILE] [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

from vibevoice_ci.benchmark import bench

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.support.processes import free_port, running  # noqa: E402  (the repo's process helper)

# vibevoice-bench from this interpreter's environment first, as `make` puts it on PATH.
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def main() -> int:
    """Start the services, run and gate each scenario, print each summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--corpus", choices=bench.CORPORA, default=bench.DEFAULT_CORPUS)
    parser.add_argument("--policy", type=Path, help="a regression policy (TOML)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-out")
    args = parser.parse_args()
    load = bench.Load(requests=args.requests, concurrency=args.concurrency, corpus=args.corpus)
    out = str(args.out)
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
        for scenario in bench.scenarios(bench.SCENARIO_NAMES):
            print(f"== {scenario.name}", file=sys.stderr, flush=True)
            run = bench.run(scenario, load, url=urls[scenario.service], out_root=out)
            if subprocess.run(run, env=ENV, check=False).returncode != 0:
                return 2
            policy = str(args.policy) if args.policy else None
            compare = bench.compare(scenario, out_root=out, last_root=out, policy=policy)
            code = subprocess.run(compare, env=ENV, check=False).returncode
            if code not in (0, 1):
                return 2
            print((args.out / scenario.name / "summary.md").read_text(encoding="utf-8"))
            worst = max(worst, code)
    return worst


if __name__ == "__main__":
    sys.exit(main())
