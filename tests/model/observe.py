"""Watching a model service from outside: its threads, its generation log lines, its audio."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from tests.support.processes import Service, wait_for
from vibevoice_platform.audio import rms_dbfs
from vibevoice_platform.tts.engines.vibevoice import WORKER_NAME
from vibevoice_platform.tts.engines.vibevoice_interface import model_text
from vibevoice_platform.tts.engines.vibevoice_tiny import CHARS_PER_FRAME, FRAME_SAMPLES

FRAME_BYTES = FRAME_SAMPLES * 2  # one model step: 3,200 PCM16 samples


def generation_threads(service: Service) -> list[str]:
    """The process's threads the kernel knows as the model's generation worker."""
    names = []
    for task in Path(f"/proc/{service.process.pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
        except OSError:  # the thread ended while we looked
            continue
        if name == WORKER_NAME:
            names.append(name)
    return names


def generation_records(service: Service) -> list[dict[str, Any]]:
    """The engine's one-per-generation log lines (outcome, chunks, chunks after the stop request...)."""
    records = []
    for line in service.output().splitlines():
        if not line.startswith("{"):
            continue
        record = json.loads(line)
        if record.get("logger", "").endswith("engines.vibevoice") and record["msg"].startswith("generation "):
            records.append(record)
    return records


def next_generation_record(service: Service, seen: int) -> dict[str, Any]:
    """The first generation record after the `seen` ones, waiting for it to be written."""
    assert wait_for(lambda: len(generation_records(service)) > seen), "no generation was logged"
    return generation_records(service)[seen]


def tiny_frames(text: str) -> int:
    """How many steps (frames) the tiny model speaks for `text`."""
    return math.ceil(len(model_text(text)) / CHARS_PER_FRAME)


def assert_model_noise(pcm: bytes) -> None:
    """Whole frames of audible, unclipped noise: a NaN frame would be silence, an inf one clipped."""
    assert len(pcm) % FRAME_BYTES == 0
    frames = np.frombuffer(pcm, dtype="<i2").reshape(-1, FRAME_SAMPLES).astype(np.int32)
    assert (np.abs(frames).max(axis=1) > 0).all(), "a frame of digital silence"
    assert (frames.std(axis=1) > 0).all(), "a constant frame"
    assert np.mean(np.abs(frames) >= 32767) < 0.01, "clipped"
    assert rms_dbfs(pcm) > -80
