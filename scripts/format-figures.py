#!/usr/bin/env python3
"""Streaming figures of each response format against wav: time to first byte, to first audio (the
first bytes a decoder turns into sound: a container's header alone is not audio), to the whole body,
and bytes per second of audio (a benchmark, not a test).

Starts `vibevoice-tts --engine espeak` on a free loopback port (or uses --url), then sends the same
texts one at a time, `--rounds` times, the formats interleaved, and prints a Markdown table of medians.
The audio length comes from decoding each body with FFmpeg (PyAV, the dev extra), so the rate is per
second of what a client hears.

    .venv/bin/python scripts/format-figures.py [--rounds 20] [--url URL] [--formats wav,opus]
"""

from __future__ import annotations

import argparse
import io
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import av
import av.error
import httpx

FORMATS = ("wav", "pcm", "mp3", "opus", "aac", "flac")
TEXTS = (
    "Hello there. How can I help you today?",
    "The quick brown fox jumps over the lazy dog, and then it runs into the forest to find its friends.",
    "Streaming speech starts playing before the whole sentence has been synthesised, which is the point.",
)
SAMPLE_RATE = 24_000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_tts() -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    binary = Path(sys.executable).parent / "vibevoice-tts"
    process = subprocess.Popen(
        [str(binary), "--engine", "espeak", "--port", str(port), "--log-level", "warning"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise SystemExit("vibevoice-tts did not become ready")


def _audio_seconds(body: bytes, response_format: str) -> float:
    if response_format == "pcm":
        return len(body) / (2 * SAMPLE_RATE)
    try:
        with av.open(io.BytesIO(body), mode="r") as container:
            stream = container.streams.audio[0]
            rate = stream.codec_context.sample_rate
            samples = sum(frame.samples for frame in container.decode(stream))
    except (av.error.FFmpegError, IndexError):  # a prefix too short to probe, or one with no stream yet
        return 0.0
    return samples / rate


def _first_audio(arrivals: list[tuple[float, bytes]], response_format: str) -> float:
    """When the bytes received so far first decoded to some audio."""
    received = b""
    for arrived, chunk in arrivals:
        received += chunk
        if _audio_seconds(received, response_format) > 0:
            return arrived
    raise AssertionError("the body never decoded to audio")


def measure(client: httpx.Client, url: str, response_format: str, text: str) -> tuple[float, ...]:
    """(ms to the first byte, ms to the first audio, ms to the whole body, body bytes, seconds of
    audio) of one request."""
    body = {"model": "tts-1", "input": text, "voice": "alloy", "response_format": response_format}
    started = time.perf_counter()
    arrivals: list[tuple[float, bytes]] = []
    with client.stream("POST", f"{url}/v1/audio/speech", json=body) as response:
        response.raise_for_status()
        arrivals.extend((time.perf_counter(), chunk) for chunk in response.iter_raw())
    done = time.perf_counter()
    audio = b"".join(chunk for _, chunk in arrivals)
    assert arrivals, "no audio"
    return (
        (arrivals[0][0] - started) * 1000,
        (_first_audio(arrivals, response_format) - started) * 1000,
        (done - started) * 1000,
        len(audio),
        _audio_seconds(audio, response_format),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Streaming figures of each response format against wav")
    parser.add_argument("--rounds", type=int, default=20, help="requests per format and text [20]")
    parser.add_argument("--url", help="a running TTS service (default: start one with espeak)")
    parser.add_argument(
        "--formats", default=",".join(FORMATS), help=f"comma-separated, wav among them [{','.join(FORMATS)}]"
    )
    args = parser.parse_args()
    formats = args.formats.split(",")
    if "wav" not in formats or not set(formats) <= set(FORMATS):
        parser.error(f"--formats: wav and any of {', '.join(FORMATS)}")
    process, url = (None, args.url) if args.url else _start_tts()
    try:
        rows: dict[str, list[float]] = {}
        with httpx.Client(timeout=60) as client:
            for response_format in formats:
                measure(client, url, response_format, TEXTS[0])  # warm-up
            samples: dict[str, list[tuple[float, ...]]] = {f: [] for f in formats}
            for _ in range(args.rounds):  # formats interleaved, so a busy moment hits them all alike
                for text in TEXTS:
                    for response_format in formats:
                        *times, size, seconds = measure(client, url, response_format, text)
                        samples[response_format].append((*times, size / seconds))
            for response_format, values in samples.items():
                rows[response_format] = [statistics.median(column) for column in zip(*values, strict=True)]
    finally:
        if process is not None:
            process.terminate()
            process.wait(10)
    wav = rows["wav"]
    print(f"{args.rounds * len(TEXTS)} requests per format, one at a time, espeak-ng, medians\n")
    print(
        "| format | first byte (ms) | vs wav | first audio (ms) | vs wav | whole body (ms) | vs wav "
        "| bytes per s of audio | vs wav |"
    )
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|")
    for response_format, row in rows.items():
        times = " | ".join(f"{ms:.1f} | {ms - base:+.1f}" for ms, base in zip(row[:3], wav[:3], strict=True))
        print(f"| {response_format} | {times} | {row[3]:,.0f} | {row[3] / wav[3]:.1%} |")


if __name__ == "__main__":
    main()
