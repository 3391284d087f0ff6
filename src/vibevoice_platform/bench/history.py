"""history.json: the statistics of past runs, and the run-to-run spread the passing ones show.

A significance test sees only the samples of two runs, and each run is consistent within itself. On
a shared runner the machine changes between runs (another tenant, another CPU, a throttled host), so
a whole run shifts, and two runs of one build then differ "significantly". What tells that noise from
a regression is how far runs of the same scenario have moved before: the history keeps one line per
run (its statistics, never its samples, and whether it passed), bounded to the newest `max_runs`, and
the gate asks whether this run's statistic is beyond median + k x MAD of the past passing runs (MAD
scaled to a standard deviation, so k reads as "k sigmas" for normal noise, and one odd night barely
moves it). A failing run is kept, marked, so a young history still learns what the machine does
(compare.py: the median of every past run); it never widens the spread.

The history is only as wide as the noise the passing runs have shown: a machine that shifts more than
it ever has is still judged on the significance test alone, and a regression that creeps in by less
than the spread each time is accepted step by step, as any rolling baseline accepts it.
"""

from __future__ import annotations

import statistics as pystats
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from vibevoice_platform.bench.results import Results, ResultsError, load_document
from vibevoice_platform.bench.stats import statistic

SCHEMA_VERSION = 1
MAD_TO_SIGMA = 1.4826  # MAD x this estimates the standard deviation of normally distributed values
STANDARD_STATISTICS = ("avg", "p50", "p90", "p95", "p99")
# The settings two runs must share to belong to one series: the same scenario measured the same way.
SERIES_FIELDS = ("target", "protocol", "concurrency", "corpus", "engine", "model", "voice")


class HistoryEntry(BaseModel):
    """One past run: what it measured and how, and its statistics per metric."""

    git_sha: str | None
    started_at: datetime
    target: str
    protocol: str
    concurrency: int
    corpus: str
    engine: str | None
    model: str | None
    voice: str | None
    cpu_model: str | None
    cpu_probe_ms: float | None
    error_rate: float
    stats: dict[str, dict[str, float]]  # metric -> statistic -> value
    passed: bool = True  # False: the gate failed this run (it never became the baseline)


class History(BaseModel):
    """The whole of history.json, oldest run first."""

    schema_version: int = SCHEMA_VERSION
    runs: list[HistoryEntry] = []


class HistoryError(ResultsError):
    """A history file that cannot be read or is not a history.json."""


def load_history(path: Path) -> History:
    """Read and validate a history.json; a missing file is an empty history (the first run)."""
    if not path.exists():
        return History()
    return load_document(path, History, kind="history", version=SCHEMA_VERSION, error=HistoryError)


def entry_for(results: Results, extra_statistics: Iterable[str] = (), *, passed: bool = True) -> HistoryEntry:
    """The history line of a run: the standard statistics (and any others asked for) of each metric."""
    names = tuple(dict.fromkeys((*STANDARD_STATISTICS, *extra_statistics)))
    run = results.run
    return HistoryEntry(
        git_sha=run.git_sha,
        started_at=run.started_at,
        target=run.target,
        protocol=run.protocol,
        concurrency=run.concurrency,
        corpus=run.corpus,
        engine=run.engine,
        model=run.model,
        voice=run.voice,
        cpu_model=results.testbed.cpu_model,
        cpu_probe_ms=results.testbed.cpu_probe_ms,
        error_rate=results.error_rate,
        passed=passed,
        stats={
            metric: {name: round(statistic(summary.samples, name), 6) for name in names}
            for metric, summary in results.metrics.items()
            if summary.samples
        },
    )


def appended(history: History, entry: HistoryEntry, max_runs: int) -> History:
    """`history` with `entry` added as the newest run (replacing the same run if it is there), the
    oldest dropped beyond `max_runs`."""
    kept = [run for run in history.runs if (run.git_sha, run.started_at) != (entry.git_sha, entry.started_at)]
    return History(runs=[*kept, entry][-max_runs:])


def same_series(entry: HistoryEntry, results: Results) -> bool:
    """Whether a past run measured the same scenario the same way as `results`."""
    return all(getattr(entry, name) == getattr(results.run, name) for name in SERIES_FIELDS)


def series(history: History, results: Results) -> list[HistoryEntry]:
    """The past runs of `results`' series (same target, protocol, concurrency, corpus, engine...)."""
    return [entry for entry in history.runs if same_series(entry, results)]


@dataclass(frozen=True)
class Spread:
    """How far one statistic has moved across past runs, and the limit noise may reach."""

    runs: int
    median: float
    mad: float  # scaled to a standard deviation
    limit: float  # median + k x mad in the worse direction

    def contains(self, value: float, worse: Literal["higher", "lower"]) -> bool:
        """Whether `value` is no worse than the limit."""
        return value <= self.limit if worse == "higher" else value >= self.limit


def spread(values: Sequence[float], k: float, worse: Literal["higher", "lower"]) -> Spread:
    """The median, scaled MAD and noise limit of a statistic's past values (at least one)."""
    if not values:
        raise ValueError("a spread needs at least one past value")
    median = pystats.median(values)
    mad = MAD_TO_SIGMA * pystats.median(abs(v - median) for v in values)
    limit = median + k * mad if worse == "higher" else median - k * mad
    return Spread(runs=len(values), median=median, mad=mad, limit=limit)


def past_values(entries: Iterable[HistoryEntry], metric: str, name: str) -> list[float]:
    """The values of one statistic of one metric in the past runs that recorded it."""
    return [entry.stats[metric][name] for entry in entries if name in entry.stats.get(metric, {})]
