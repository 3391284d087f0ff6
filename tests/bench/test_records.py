"""Turning a request's clock into its record."""

from __future__ import annotations

import pytest

from vibevoice_platform.bench.records import ErrorType, RequestError, StreamClock, measured


def _clock(arrivals_ms: list[float], end_ms: float | None, chunk: int = 4800) -> StreamClock:
    clock = StreamClock(started=100.0)
    clock.arrivals = [100.0 + t / 1000 for t in arrivals_ms]
    clock.bytes = chunk * len(arrivals_ms)
    clock.ended = None if end_ms is None else 100.0 + end_ms / 1000
    return clock


def test_timings_gaps_audio_and_real_time_factor() -> None:
    record = measured(
        _clock([20.0, 30.0, 60.0], 80.0), index=3, utterance="short-1", chars=20, offset_s=1.5,
        extra={"server_ttfa_ms": 18.0}, error=None,
    )  # fmt: skip
    assert record.ok
    assert record.error is None
    assert record.ttfa_ms == pytest.approx(20.0)
    assert record.e2e_latency_ms == pytest.approx(80.0)
    assert record.inter_chunk_gap_ms == pytest.approx(20.0)  # (10 + 30) / 2
    assert record.max_chunk_gap_ms == pytest.approx(30.0)
    assert (record.chunks, record.bytes) == (3, 14_400)
    assert record.audio_seconds == pytest.approx(0.3)  # 14,400 bytes of 24 kHz PCM16
    assert record.rtf == pytest.approx(0.08 / 0.3, rel=1e-4)
    assert record.extra == {"server_ttfa_ms": 18.0}


def test_one_chunk_has_no_gaps() -> None:
    record = measured(_clock([5.0], 5.0), index=0, utterance="u", chars=1, offset_s=0, extra={}, error=None)
    assert record.inter_chunk_gap_ms is None
    assert record.max_chunk_gap_ms is None


def test_a_complete_response_without_audio_is_an_error() -> None:
    record = measured(_clock([], 12.0), index=0, utterance="u", chars=1, offset_s=0, extra={}, error=None)
    assert not record.ok
    assert record.error is not None
    assert record.error.type is ErrorType.NO_AUDIO
    assert record.e2e_latency_ms is None
    assert record.rtf is None


def test_a_failed_request_keeps_what_it_measured_but_no_latency() -> None:
    error = RequestError(type=ErrorType.TIMEOUT, message="no complete response within 1 s")
    record = measured(
        _clock([15.0], None), index=0, utterance="u", chars=1, offset_s=0, extra={}, error=error
    )
    assert not record.ok
    assert record.error == error
    assert record.ttfa_ms == pytest.approx(15.0)
    assert record.e2e_latency_ms is None
