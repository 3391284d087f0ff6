"""results.json: the aggregate of a run, and reading it back for a comparison.

Every metric is aggregated over the successful requests only (a timeout has no latency worth
averaging); failures show in `error_rate` and `error_summary` instead. Each metric keeps its raw
`samples`, which is what lets `compare` test a change for significance rather than trust one number.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

from pydantic import BaseModel, ValidationError

from vibevoice_platform.bench.records import ErrorType, RequestRecord
from vibevoice_platform.bench.stats import summarize
from vibevoice_platform.bench.testbed import Machine

SCHEMA_VERSION = 1


class MetricSummary(BaseModel):
    """One metric over the successful requests; the statistics are None when it has no samples."""

    unit: str
    count: int
    avg: float | None
    min: float | None
    max: float | None
    std: float | None
    p50: float | None
    p90: float | None
    p95: float | None
    p99: float | None
    samples: list[float]


class ErrorCount(BaseModel):
    """How many requests failed one way, with the first message seen."""

    type: ErrorType
    code: str | None
    count: int
    message: str


class RunInfo(BaseModel):
    """What was run, against what, when."""

    target: str
    protocol: str
    url: str
    engine: str | None
    model: str | None
    git_sha: str | None
    concurrency: int
    requests: int | None  # planned; None for a run bounded by duration
    duration_s: float | None  # planned
    warmup: int
    timeout_s: float
    corpus: str
    voice: str | None
    started_at: datetime
    wall_s: float
    service: dict[str, Any] | None  # the service's /ready body
    complete: bool = True  # False: interrupted, the figures are of the requests finished by then
    cpu_source: str | None = None  # where cpu_ms_per_request came from (cpu.py); None: not measured
    paired_with: str | None = None  # an A/B run's other target (its URL), measured interleaved


class Results(BaseModel):
    """The whole of results.json."""

    schema_version: int = SCHEMA_VERSION
    run: RunInfo
    testbed: Machine
    requests: int
    ok: int
    failed: int
    error_rate: float
    throughput_rps: float
    error_summary: list[ErrorCount]
    metrics: dict[str, MetricSummary]


# The per-request fields aggregated as metrics, in report order, with their units.
_FIELDS: tuple[tuple[str, str, Callable[[RequestRecord], float | None]], ...] = (
    ("ttfa_ms", "ms", lambda r: r.ttfa_ms),
    ("e2e_latency_ms", "ms", lambda r: r.e2e_latency_ms),
    ("inter_chunk_gap_ms", "ms", lambda r: r.inter_chunk_gap_ms),
    ("max_chunk_gap_ms", "ms", lambda r: r.max_chunk_gap_ms),
    ("rtf", "ratio", lambda r: r.rtf),
    ("audio_seconds", "s", lambda r: r.audio_seconds),
    ("bytes", "bytes", lambda r: float(r.bytes)),
    ("chunks", "count", lambda r: float(r.chunks)),
)
ALWAYS = ("ttfa_ms", "e2e_latency_ms")
RECORD_METRICS = tuple(name for name, _, _ in _FIELDS)
_READERS = {name: read for name, _, read in _FIELDS}
CPU_METRIC = "cpu_ms_per_request"  # the service's CPU time per request, one sample per window (cpu.py)


def record_value(record: RequestRecord, name: str) -> float | None:
    """One metric's value in a request's record (a field, or a driver's extra timing)."""
    read = _READERS.get(name)
    return read(record) if read is not None else record.extra.get(name)


def metric(values: Sequence[float], unit: str) -> MetricSummary:
    """The summary of one metric's samples (rounded to microseconds' worth of precision)."""
    summary = summarize(values)
    stats: dict[str, float | None] = {
        key: (None if summary is None else round(float(getattr(summary, key)), 6))
        for key in ("avg", "min", "max", "std", "p50", "p90", "p95", "p99")
    }
    return MetricSummary(unit=unit, count=len(values), samples=[round(v, 6) for v in values], **stats)


def aggregate_metrics(records: Sequence[RequestRecord]) -> dict[str, MetricSummary]:
    """Every metric with at least one sample (and TTFA and latency always), over successful requests."""
    ok = [r for r in records if r.ok]
    metrics: dict[str, MetricSummary] = {}
    for name, unit, read in _FIELDS:
        values = [v for v in (read(r) for r in ok) if v is not None]
        if values or name in ALWAYS:
            metrics[name] = metric(values, unit)
    extra_names = sorted({key for r in ok for key in r.extra})
    for name in extra_names:
        values = [r.extra[name] for r in ok if name in r.extra]
        metrics[name] = metric(values, "ms" if name.endswith("_ms") else "")
    return metrics


def error_summary(records: Sequence[RequestRecord]) -> list[ErrorCount]:
    """Failures grouped by type and code, most frequent first."""
    counts: Counter[tuple[ErrorType, str | None]] = Counter()
    first: dict[tuple[ErrorType, str | None], str] = {}
    for record in records:
        if record.error is not None:
            key = (record.error.type, record.error.code)
            counts[key] += 1
            first.setdefault(key, record.error.message)
    return [
        ErrorCount(type=kind, code=code, count=n, message=first[(kind, code)])
        for (kind, code), n in counts.most_common()
    ]


def build_results(
    records: Sequence[RequestRecord],
    run: RunInfo,
    machine: Machine,
    cpu_ms_per_request: Sequence[float] | None = None,
) -> Results:
    """The aggregate document of a run (with the service's CPU per request, when it was sampled)."""
    ok = sum(r.ok for r in records)
    total = len(records)
    metrics = aggregate_metrics(records)
    if cpu_ms_per_request is not None:
        metrics[CPU_METRIC] = metric(cpu_ms_per_request, "ms")
    return Results(
        run=run,
        testbed=machine,
        requests=total,
        ok=ok,
        failed=total - ok,
        error_rate=round((total - ok) / total, 6) if total else 1.0,
        throughput_rps=round(ok / run.wall_s, 6) if run.wall_s > 0 else 0.0,
        error_summary=error_summary(records),
        metrics=metrics,
    )


class ResultsError(ValueError):
    """A results file that cannot be read or is not a results.json."""


class VersionedDocument(Protocol):
    """A JSON document of vibevoice-bench: it says which schema version wrote it."""

    @property
    def schema_version(self) -> int: ...


DocumentT = TypeVar("DocumentT", bound=BaseModel)


def load_document(
    path: Path, model: type[DocumentT], *, kind: str, version: int, error: type[ResultsError]
) -> DocumentT:
    """Read and validate one of our JSON documents; every problem becomes `error`, naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        document = model.model_validate_json(text)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(document)'}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise error(f"{path} is not a vibevoice-bench {kind} file: {problems}") from exc
    found = cast(VersionedDocument, document).schema_version
    if found != version:
        raise error(f"{path} has schema_version {found}; expected {version}")
    return document


def load_results(path: Path) -> Results:
    """Read and validate a results.json (or a baseline.json, which is one)."""
    return load_document(path, Results, kind="results", version=SCHEMA_VERSION, error=ResultsError)
