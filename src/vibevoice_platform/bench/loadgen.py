"""The load generator: closed-loop workers that each send one request at a time.

`concurrency` workers share a request counter; each takes the next index, speaks utterance
`index % len(corpus)` and records what happened. Warm-up requests go first, at the same concurrency,
and are not recorded. A run is bounded by a number of requests or by a duration; when the duration is
up no new request starts, and those in flight finish and count. A run can also be stopped (Ctrl-C):
requests in flight are then abandoned, and the outcome holds what had finished, marked incomplete.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import anyio

from vibevoice_platform.bench.corpus import Utterance
from vibevoice_platform.bench.cpu import CpuWindows
from vibevoice_platform.bench.drivers import Driver, Session, recorded_errors
from vibevoice_platform.bench.records import (
    ErrorType,
    RequestError,
    RequestFailed,
    RequestRecord,
    StreamClock,
    measured,
)


@dataclass(frozen=True)
class Plan:
    """How much load, how fast: exactly one of `requests` and `duration_s` is set."""

    requests: int | None
    duration_s: float | None
    concurrency: int
    warmup: int
    timeout_s: float

    def __post_init__(self) -> None:
        if (self.requests is None) == (self.duration_s is None):
            raise ValueError("give either a number of requests or a duration")
        if self.requests is not None and self.requests < 1:
            raise ValueError("requests must be at least 1")
        if self.duration_s is not None and self.duration_s <= 0:
            raise ValueError("the duration must be positive")
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if self.warmup < 0:
            raise ValueError("warm-up requests cannot be negative")
        if self.timeout_s <= 0:
            raise ValueError("the timeout must be positive")


@dataclass(frozen=True)
class Outcome:
    """The measured phase: its records in request order, when it started, how long it took."""

    records: list[RequestRecord]
    started_at: datetime
    wall_s: float
    complete: bool = True  # False when stopped before its requests or duration were done
    cpu_ms_per_request: list[float] | None = None  # the service's, per window of requests (cpu.py)


async def one_request(
    session: Session, driver: Driver, utterance: Utterance, index: int, offset_s: float
) -> RequestRecord:
    """Make one request under the per-request timeout; every failure becomes the record's error."""
    clock = StreamClock()
    extra: dict[str, float] = {}
    error: RequestError | None = None
    try:
        with anyio.fail_after(session.timeout_s), recorded_errors():
            await driver(session, utterance, index, clock, extra)
    except TimeoutError:
        error = RequestError(
            type=ErrorType.TIMEOUT, message=f"no complete response within {session.timeout_s:g} s"
        )
    except RequestFailed as exc:
        error = exc.error
    return measured(
        clock,
        index=index,
        utterance=utterance.id,
        chars=len(utterance.text),
        offset_s=offset_s,
        extra=extra,
        error=error,
    )


Step = Callable[[int, int, float], Awaitable[None]]
"""One unit of load: (worker lane, index, seconds since the phase started)."""


async def _phase(*, count: int | None, deadline_s: float | None, concurrency: int, step: Step) -> float:
    """Run workers until `count` steps or `deadline_s` seconds; returns the wall time."""
    started = time.perf_counter()
    next_index = 0

    def take() -> int | None:
        nonlocal next_index
        if count is not None and next_index >= count:
            return None
        if deadline_s is not None and time.perf_counter() - started >= deadline_s:
            return None
        next_index += 1
        return next_index - 1

    async def worker(lane: int) -> None:
        while (index := take()) is not None:
            await step(lane, index, time.perf_counter() - started)

    async with anyio.create_task_group() as tg:
        for lane in range(concurrency if count is None else min(concurrency, count)):
            tg.start_soon(worker, lane)
    return time.perf_counter() - started


@dataclass(frozen=True)
class Phases:
    """When the measured phase started, how long it took, and whether it ran to its end."""

    started_at: datetime
    wall_s: float
    complete: bool


async def run_phases(
    plan: Plan, warmup: Step, measured: Step, stop: anyio.Event | None = None, cpu: CpuWindows | None = None
) -> Phases:
    """The warm-up steps (not recorded), then the measured ones (`cpu`'s first reading between them);
    setting `stop` ends the run at once."""
    stop = stop or anyio.Event()
    started_at = datetime.now(UTC)
    started = time.perf_counter()
    async with anyio.create_task_group() as tg:

        async def stop_when_asked() -> None:
            await stop.wait()
            tg.cancel_scope.cancel()

        tg.start_soon(stop_when_asked)
        if plan.warmup:
            await _phase(count=plan.warmup, deadline_s=None, concurrency=plan.concurrency, step=warmup)
        if cpu is not None:
            await cpu.start()
        started_at, started = datetime.now(UTC), time.perf_counter()
        await _phase(
            count=plan.requests, deadline_s=plan.duration_s, concurrency=plan.concurrency, step=measured
        )
        tg.cancel_scope.cancel()
    return Phases(started_at, time.perf_counter() - started, complete=not stop.is_set())


async def execute(
    session: Session,
    driver: Driver,
    utterances: Sequence[Utterance],
    plan: Plan,
    on_record: Callable[[RequestRecord], None],
    *,
    stop: anyio.Event | None = None,
    cpu: CpuWindows | None = None,
) -> Outcome:
    """Warm up, then run the measured phase; `on_record` sees each measured record as it finishes.
    Setting `stop` ends the run at once with what has been measured. With `cpu` (one clock), the
    service's CPU time per request is sampled over its windows."""
    if not utterances:
        raise ValueError("the corpus is empty")
    records: list[RequestRecord] = []

    def step(record: Callable[[RequestRecord], Awaitable[None]]) -> Step:
        async def run(lane: int, index: int, offset_s: float) -> None:
            utterance = utterances[index % len(utterances)]
            await record(await one_request(session.for_worker(lane), driver, utterance, index, offset_s))

        return run

    async def discard(_: RequestRecord) -> None:
        pass

    async def keep(record: RequestRecord) -> None:
        records.append(record)
        on_record(record)
        if cpu is not None:
            await cpu.completed([len(records)])

    phases = await run_phases(plan, step(discard), step(keep), stop, cpu)
    return Outcome(
        sorted(records, key=lambda r: r.index),
        phases.started_at,
        phases.wall_s,
        complete=phases.complete,
        cpu_ms_per_request=cpu.windows[0] if cpu is not None else None,
    )
