#!/usr/bin/env python3
"""Benchmark of the 22.05 -> 24 kHz streaming resampler: first-chunk latency and CPU per second of audio.

Feeds espeak-ng's real output for a paragraph, in the chunk sizes its pipe delivers (4,096 bytes), to
the resampler in this checkout and, with `--compare-ref REV`, to the one at a git revision (its
`src/vibevoice_platform/resample.py` loaded from git), alternating the two in one run:

    scripts/bench-resampler.py [--rounds 200] [--compare-ref eaf436f]

First-chunk latency: the time from a fresh resampler receiving its first chunk to returning its audio
(what every espeak request pays before its first byte leaves), and how much of that chunk's audio the
filter held back. CPU: process time per second of audio resampled, over the whole paragraph.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
from vibevoice_platform.audio import WAV_HEADER_SIZE, parse_wav_header  # noqa: E402
from vibevoice_platform.resample import StreamingResampler  # noqa: E402

TEXT = (
    "The quick brown fox jumps over the lazy dog. Streaming speech starts before the sentence ends, "
    "so every millisecond before the first chunk is heard. "
) * 4
CHUNK_BYTES = 4096
TARGET_RATE = 24_000


class Resampler(Protocol):
    def process(self, pcm: bytes) -> bytes: ...
    def flush(self) -> bytes: ...


def espeak_pcm() -> tuple[int, bytes]:
    """espeak-ng's sample rate and PCM16 for TEXT."""
    wav = subprocess.run(
        ["espeak-ng", "--stdout", "--stdin"], input=TEXT.encode(), capture_output=True, check=True
    ).stdout
    rate, _, _ = parse_wav_header(wav[:WAV_HEADER_SIZE])
    return rate, wav[WAV_HEADER_SIZE:]


def resampler_at(revision: str) -> Callable[[int, int], Resampler]:
    """The StreamingResampler class of `revision`, loaded from git into a module of its own."""
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{revision}:src/vibevoice_platform/resample.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "resample_at_revision.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("resample_at_revision", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.StreamingResampler


def first_chunk(make: Callable[[int, int], Resampler], rate: int, pcm: bytes) -> tuple[float, int]:
    """Milliseconds from a new resampler's first chunk to its output, and the output samples held back."""
    chunk = pcm[:CHUNK_BYTES]
    started = time.perf_counter()
    out = make(rate, TARGET_RATE).process(chunk)
    elapsed_ms = (time.perf_counter() - started) * 1000
    expected = len(chunk) // 2 * TARGET_RATE / rate
    return elapsed_ms, round(expected - len(out) // 2)


def cpu_ms_per_audio_second(make: Callable[[int, int], Resampler], rate: int, pcm: bytes) -> float:
    started = time.process_time()
    resampler = make(rate, TARGET_RATE)
    produced = sum(len(resampler.process(pcm[i : i + CHUNK_BYTES])) for i in range(0, len(pcm), CHUNK_BYTES))
    produced += len(resampler.flush())
    return (time.process_time() - started) * 1000 / (produced / 2 / TARGET_RATE)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--compare-ref", help="a git revision whose resampler to measure side by side")
    args = parser.parse_args()
    rate, pcm = espeak_pcm()
    candidates: dict[str, Callable[[int, int], Resampler]] = {"this checkout": StreamingResampler}
    if args.compare_ref:
        candidates[args.compare_ref] = resampler_at(args.compare_ref)
    latency: dict[str, list[float]] = {name: [] for name in candidates}
    held: dict[str, int] = {}
    cpu: dict[str, list[float]] = {name: [] for name in candidates}
    for make in candidates.values():  # warm-up: imports, caches, the first call's allocations
        first_chunk(make, rate, pcm)
    for _ in range(args.rounds):
        for name, make in candidates.items():
            elapsed, held[name] = first_chunk(make, rate, pcm)
            latency[name].append(elapsed)
    for _ in range(max(3, args.rounds // 20)):
        for name, make in candidates.items():
            cpu[name].append(cpu_ms_per_audio_second(make, rate, pcm))
    seconds = len(pcm) / 2 / rate
    print(
        f"espeak-ng: {seconds:.1f} s of audio at {rate} Hz in {CHUNK_BYTES}-byte chunks; {args.rounds} rounds"
    )
    print("| resampler | first chunk p50 / p95 (ms) | held back (24 kHz samples) | CPU per s of audio (ms) |")
    print("|---|---|---|---|")
    for name in candidates:
        p50 = statistics.median(latency[name])
        p95 = statistics.quantiles(latency[name], n=20)[18]
        print(f"| {name} | {p50:.3f} / {p95:.3f} | {held[name]} | {statistics.median(cpu[name]):.3f} |")


if __name__ == "__main__":
    main()
