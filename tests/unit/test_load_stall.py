"""`--load-stall-s`: when a load counts as hung, on a clock the test moves, and what the engine reports."""

from __future__ import annotations

import pytest

from tests.unit.test_auth import Clock
from vibevoice_platform.tts.engines.sine import SineEngine
from vibevoice_platform.tts.limits import Admission
from vibevoice_platform.tts.metrics import TTSMetrics
from vibevoice_platform.tts.service import Status, SynthesisService


def service(clock: Clock, stall_s: float) -> SynthesisService:
    return SynthesisService(
        SineEngine(), Admission(1, 0, 1.0), TTSMetrics("sine"), load_stall_s=stall_s, clock=clock
    )


def test_a_load_is_stalled_once_its_last_step_is_older_than_the_limit() -> None:
    clock = Clock()
    loading = service(clock, stall_s=10)
    clock.now += 10
    assert loading.load_stalled() is None  # no longer than the limit: still progressing
    loading.load_watch("weights read")  # a step, reported by the engine (from any thread)
    clock.now += 9
    assert loading.load_stalled() is None
    clock.now += 2
    stalled = loading.load_stalled()
    assert stalled == (
        "the engine's load has made no progress for 11 s (--load-stall-s 10); its last step: weights read"
    )
    loading.status = Status.READY  # a loaded engine is never stalled, however long ago its last step
    assert loading.load_stalled() is None


def test_without_a_limit_a_load_is_never_stalled() -> None:
    clock = Clock()
    loading = service(clock, stall_s=0)
    clock.now += 86_400
    assert loading.load_stalled() is None


@pytest.mark.anyio
async def test_the_espeak_engine_reports_its_steps(espeak_ng: str) -> None:
    from vibevoice_platform.tts.engines.espeak import EspeakEngine

    steps: list[str] = []
    await EspeakEngine(binary=espeak_ng).load(steps.append)
    assert steps == ["espeak-ng --version", "espeak-ng --voices"]
