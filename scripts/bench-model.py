#!/usr/bin/env python3
"""Benchmark of the VibeVoice engine with the tiny random model: what the service adds to the model.

1. `speed` (default): time to first audio (TTFA) and time per step, in the same run, of
   - the raw generate loop: the binding's `generate` (the processor, then the model's own `generate`)
     streaming into the package's own `AudioStreamer` in a thread, read as Microsoft's demos read it;
   - the service: `vibevoice-tts --engine vibevoice --model tiny-random`, POST /v1/audio/speech (pcm)
     over loopback, TTFA to the first audio byte, a step per 3,200-sample frame as it arrives.
   Runs alternate (raw, service, raw, ...) so both see the same machine; the same text each time.
   Target: the service adds at most 5 ms to TTFA at p50.
2. `install`: size and time of the `gpu` extra (CPU torch first, then the extra, then PyPI vibevoice
   without its dependencies) in a fresh virtual environment that already has the project.

    scripts/bench-model.py speed [--runs 30] [--json bench-out/model.json]
    scripts/bench-model.py install [--json bench-out/model-install.json]

Needs `make model-deps`. Figures depend on the machine and its load; the output states the CPU.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.support.processes import free_port, running  # noqa: E402  (the repo's process helper)
from vibevoice_platform.bench.testbed import describe_machine  # noqa: E402
from vibevoice_platform.tts.engines.base import no_progress  # noqa: E402
from vibevoice_platform.tts.engines.vibevoice_runtime import import_attr  # noqa: E402
from vibevoice_platform.tts.engines.vibevoice_tiny import FRAME_SAMPLES, TinyRandomBinding  # noqa: E402

TEXT = "The quick brown fox jumps over the lazy dog, and the tiny model speaks it as noise. " * 2
VOICE = "tiny-low"
FRAME_BYTES = FRAME_SAMPLES * 2
TORCH = "torch==2.13.0"
VIBEVOICE = "vibevoice==0.0.1"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "count": len(values),
        "p50": round(percentile(values, 50), 2),
        "p95": round(percentile(values, 95), 2),
        "mean": round(statistics.fmean(values), 2),
    }


def intervals_ms(times: list[float]) -> list[float]:
    return [(later - earlier) * 1000 for earlier, later in itertools.pairwise(times)]


def raw_run(binding: TinyRandomBinding) -> tuple[float, list[float]]:
    """TTFA and step times (ms) of one raw generation read from the package's AudioStreamer."""
    # the model package, installed apart (`make model-deps`): the dev environment alone has it not
    streamer = import_attr("vibevoice.modular.streamer", "AudioStreamer")(batch_size=1)
    started = time.perf_counter()
    worker = threading.Thread(target=binding.generate, args=(TEXT, VOICE, streamer, lambda: False))
    worker.start()
    arrivals = [time.perf_counter() for _ in streamer.get_stream(0)]
    worker.join()
    return (arrivals[0] - started) * 1000, intervals_ms(arrivals)


def service_run(client: httpx.Client, url: str) -> tuple[float, list[float]]:
    """TTFA (first audio byte) and step times (ms) of one request, a step being each whole frame."""
    body = {"model": "tiny-random", "input": TEXT, "voice": VOICE, "response_format": "pcm"}
    first: float | None = None
    frames: list[float] = []  # when each whole frame had arrived
    received = 0
    started = time.perf_counter()
    with client.stream("POST", f"{url}/v1/audio/speech", json=body) as response:
        response.raise_for_status()
        for data in response.iter_raw():
            now = time.perf_counter()
            first = now if first is None else first
            complete = received // FRAME_BYTES
            received += len(data)
            frames += [now] * (received // FRAME_BYTES - complete)
    assert first is not None, "no audio"
    return (first - started) * 1000, intervals_ms(frames)


def speed(runs: int) -> dict[str, Any]:
    binding = TinyRandomBinding(device="cpu", dtype="auto", cfg_scale=1.5, diffusion_steps=5)
    binding.load(no_progress)
    raw_run(binding)  # warm-up
    port = free_port()
    command = ["vibevoice-tts", "--engine", "vibevoice", "--model", "tiny-random", "--port", str(port)]
    raw_ttfa, raw_steps, svc_ttfa, svc_steps = [], [], [], []
    with running(command, port=port, timeout=120) as service, httpx.Client(timeout=60) as client:
        service_run(client, service.url)  # warm-up
        for _ in range(runs):
            ttfa, steps = raw_run(binding)
            raw_ttfa.append(ttfa)
            raw_steps += steps
            ttfa, steps = service_run(client, service.url)
            svc_ttfa.append(ttfa)
            svc_steps += steps
        # The service's own view: from the request's admission to the engine's first chunk.
        logged = [json.loads(line) for line in service.output().splitlines() if '"synthesis ok"' in line]
        inside = [record["ttfa_ms"] for record in logged[-runs:]]
    result = {
        "machine": describe_machine().model_dump(),
        "text_chars": len(TEXT),
        "runs": runs,
        "raw": {"ttfa_ms": summary(raw_ttfa), "step_ms": summary(raw_steps)},
        "service": {
            "ttfa_ms": summary(svc_ttfa),
            "step_ms": summary(svc_steps),
            "ttfa_inside_ms": summary(inside),  # as the service logs it: engine and adapter, no HTTP
        },
    }
    result["service_adds_ms"] = {
        "ttfa_p50": round(result["service"]["ttfa_ms"]["p50"] - result["raw"]["ttfa_ms"]["p50"], 2),
        "step_p50": round(result["service"]["step_ms"]["p50"] - result["raw"]["step_ms"]["p50"], 2),
    }
    return result


def _du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def _pip(venv: Path, *args: str) -> float:
    started = time.perf_counter()
    subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", *args], check=True)
    return time.perf_counter() - started


def install() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="gpu-extra-") as tmp:
        venv = Path(tmp) / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        _pip(venv, "-e", str(ROOT))
        before = _du(venv)
        times = {
            "torch": _pip(venv, TORCH),
            "gpu_extra": _pip(venv, "-e", f"{ROOT}[gpu]"),
            "vibevoice": _pip(venv, "--no-deps", VIBEVOICE),
        }
        after = _du(venv)
        site = next((venv / "lib").glob("python*/site-packages"))
        biggest = sorted(((_du(p), p.name) for p in site.iterdir() if p.is_dir()), reverse=True)[:6]
        shutil.rmtree(venv)
    return {
        "machine": describe_machine().model_dump(),
        "install_s": {k: round(v, 1) for k, v in times.items()} | {"total": round(sum(times.values()), 1)},
        "venv_mb": {"project_only": round(before / 2**20), "with_gpu_extra": round(after / 2**20)},
        "gpu_extra_mb": round((after - before) / 2**20),
        "largest_packages_mb": {name: round(size / 2**20) for size, name in biggest},
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=["speed", "install"], nargs="?", default="speed")
    parser.add_argument("--runs", type=int, default=30, help="measured runs of each side [30]")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    figures = speed(args.runs) if args.what == "speed" else install()
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
