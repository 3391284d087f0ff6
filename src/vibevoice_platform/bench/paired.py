"""Two targets measured interleaved in one run, judged pair by pair: the pull request's A/B comparison.

Runs on other nights differ by the machine as much as by the code (another tenant, another CPU): two
runs of one build here differed by up to 2.3x in TTFA p50. Measured in one run, the baseline's build
and the current one see the same machine. Each step is a pair: the same utterance to both targets,
one after the other, in an order drawn per pair (seeded), so neither side always goes first and finds
the machine warmer or colder. What moved both sides of a pair cancels in their difference, and
`compare` judges those differences (stats.py: Wilcoxon signed-rank, a bootstrap of the pairs).

At `--concurrency C`, C pairs are in flight, so the two targets share C requests between them (about
C/2 each): they run on one machine, and a target measured alone would have it to itself.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import anyio

from vibevoice_platform.bench.corpus import Utterance
from vibevoice_platform.bench.cpu import CpuWindows
from vibevoice_platform.bench.drivers import Driver, Session
from vibevoice_platform.bench.loadgen import Outcome, Plan, one_request, run_phases
from vibevoice_platform.bench.records import RequestRecord
from vibevoice_platform.bench.results import CPU_METRIC, RECORD_METRICS, record_value


@dataclass(frozen=True)
class PairedOutcome:
    """Each side's records (a pair's two share its index) and CPU windows (aligned by position)."""

    baseline: Outcome
    current: Outcome


async def execute_pairs(
    baseline: Session,
    current: Session,
    driver: Driver,
    utterances: Sequence[Utterance],
    *,
    plan: Plan,
    on_record: Callable[[RequestRecord], None],
    seed: int = 0,
    stop: anyio.Event | None = None,
    cpu: CpuWindows | None = None,
) -> PairedOutcome:
    """Warm up both targets, then measure `plan.requests` pairs (or pairs for `plan.duration_s`).
    With `cpu` (the baseline's clock, then the current's), CPU per request is sampled in windows
    that close for both at once."""
    if not utterances:
        raise ValueError("the corpus is empty")
    order = random.Random(seed)  # noqa: S311 - which side of a pair goes first, not a secret
    records: tuple[list[RequestRecord], list[RequestRecord]] = ([], [])

    async def pair(lane: int, index: int, offset_s: float, keep: bool) -> None:
        utterance = utterances[index % len(utterances)]
        sides = [0, 1]
        order.shuffle(sides)
        for side in sides:
            session = (baseline, current)[side].for_worker(lane)
            record = await one_request(session, driver, utterance, index, offset_s)
            if keep:
                records[side].append(record)
                on_record(record)
        if keep and cpu is not None:
            await cpu.completed([len(records[0]), len(records[1])])

    async def warmup(lane: int, index: int, offset_s: float) -> None:
        await pair(lane, index, offset_s, keep=False)

    async def measured(lane: int, index: int, offset_s: float) -> None:
        await pair(lane, index, offset_s, keep=True)

    phases = await run_phases(plan, warmup, measured, stop, cpu)
    outcomes = [
        Outcome(
            sorted(side, key=lambda r: r.index),
            phases.started_at,
            phases.wall_s,
            complete=phases.complete,
            cpu_ms_per_request=cpu.windows[number] if cpu is not None else None,
        )
        for number, side in enumerate(records)
    ]
    return PairedOutcome(*outcomes)


Pairs = Mapping[str, tuple[list[float], list[float]]]


def pairs_of(outcome: PairedOutcome) -> Pairs:
    """Each metric's pairs, the baseline's values then the current's: requests joined on their index
    where both succeeded and measured the metric, CPU windows by position."""
    current = {record.index: record for record in outcome.current.records if record.ok}
    joined = [(b, current[b.index]) for b in outcome.baseline.records if b.ok and b.index in current]
    names = dict.fromkeys(name for b, c in joined for name in (*RECORD_METRICS, *b.extra, *c.extra))
    found: dict[str, tuple[list[float], list[float]]] = {}
    for name in names:
        values = [(record_value(b, name), record_value(c, name)) for b, c in joined]
        kept = [(b, c) for b, c in values if b is not None and c is not None]
        if kept:
            found[name] = ([b for b, _ in kept], [c for _, c in kept])
    base_cpu, current_cpu = outcome.baseline.cpu_ms_per_request, outcome.current.cpu_ms_per_request
    if base_cpu is not None and current_cpu is not None:
        found[CPU_METRIC] = (list(base_cpu), list(current_cpu))
    return found
