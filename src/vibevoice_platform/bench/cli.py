"""`vibevoice-bench`: `run` measures a service (`run --against URL`: two, interleaved, and judges them
pair by pair), `compare` gates a run against a baseline, `report` posts the outcome to GitHub.

Exit codes: 0 the run was measured / the comparison passed or only warned / the report was posted;
1 the comparison found a regression; 2 a usage or infrastructure error (bad flags, unreadable or
invalid files, unwritable output, GitHub unreachable or refusing, a baseline target that failed its
requests). A run whose requests all failed still exits 0: it measured an error rate of 1.0, and the
gate on that is `compare`'s job.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import anyio

from vibevoice_platform.bench.chart import distribution_svg
from vibevoice_platform.bench.compare import Comparison, Verdict, compare
from vibevoice_platform.bench.corpus import CorpusChoice, CorpusError, Utterance, load_corpus_file
from vibevoice_platform.bench.cpu import CpuClock, CpuWindows, find_clock
from vibevoice_platform.bench.drivers import (
    Protocol,
    Session,
    Target,
    UnsupportedScenario,
    driver_for,
    open_session,
)
from vibevoice_platform.bench.github import API_URL, GitHub, GitHubError
from vibevoice_platform.bench.history import appended, entry_for, load_history, series
from vibevoice_platform.bench.loadgen import Outcome, Plan, execute
from vibevoice_platform.bench.paired import PairedOutcome, Pairs, execute_pairs, pairs_of
from vibevoice_platform.bench.policy import PolicyError, load_policy
from vibevoice_platform.bench.progress import Progress
from vibevoice_platform.bench.records import RequestRecord
from vibevoice_platform.bench.report import summary_markdown
from vibevoice_platform.bench.results import Results, ResultsError, RunInfo, build_results, load_results
from vibevoice_platform.bench.testbed import describe_machine, describe_service, git_sha
from vibevoice_platform.bench.trend import Trend, trend_svg, trends
from vibevoice_platform.bench.wording import counted
from vibevoice_platform.clients import ApiKeyError, add_api_key_argument, api_key
from vibevoice_platform.config import http_url

EXIT_OK = 0
EXIT_REGRESSION = 1
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130  # as a shell reports a command ended by Ctrl-C; the results are written
DEFAULT_REQUESTS = 100
READY_TIMEOUT_S = 5.0
AGAINST = "against"  # where `run --against` writes the other target's results.json


class UsageError(Exception):
    """Bad input from the user or an unusable environment: exit 2 with the message."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vibevoice-bench", description="Benchmark the voice services and gate regressions."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="measure a service; writes results.json and requests.jsonl")
    run.add_argument("--target", type=Target, choices=list(Target), required=True, help="service under test")
    run.add_argument("--url", required=True, help="the service's base URL, e.g. http://127.0.0.1:8000")
    run.add_argument(
        "--protocol", type=Protocol, choices=list(Protocol), default=Protocol.HTTP,
        help="http: streamed speech or SSE turns; ws: the TTS WebSocket (default http)",
    )  # fmt: skip
    amount = run.add_mutually_exclusive_group()
    amount.add_argument("--requests", type=int, help=f"measured requests (default {DEFAULT_REQUESTS})")
    amount.add_argument("--duration", type=float, help="measure for this many seconds instead")
    run.add_argument("--concurrency", type=int, default=1, help="requests in flight at once (default 1)")
    run.add_argument("--warmup", type=int, help="unrecorded requests first (default: the concurrency)")
    run.add_argument("--timeout", type=float, default=60.0, help="seconds per request (default 60)")
    run.add_argument(
        "--corpus", type=CorpusChoice, choices=list(CorpusChoice), default=CorpusChoice.MIXED,
        help="built-in texts: short turns, long paragraphs, or both (default mixed)",
    )  # fmt: skip
    run.add_argument("--corpus-file", type=Path, help="texts to speak instead, one per line")
    run.add_argument("--voice", help="voice to request (default: the service's)")
    run.add_argument("--model", default="tts-1", help="TTS model to request (default tts-1)")
    run.add_argument("--git-sha", help="commit under test (default: $GITHUB_SHA or git rev-parse HEAD)")
    run.add_argument("--out", type=Path, required=True, help="directory for the results")
    run.add_argument(
        "--against", metavar="URL",
        help="the baseline's service: measure it and --url interleaved, pair by pair, and judge the "
        f"pairs (writes comparison.json and summary.md; its results go to OUT/{AGAINST}/)",
    )  # fmt: skip
    run.add_argument("--against-git-sha", help="the baseline's commit, recorded with its results")
    run.add_argument("--policy", type=Path, help="with --against: the regression policy (default: built-in)")
    run.add_argument("--seed", type=int, default=0, help="with --against: seed of each pair's order")
    run.add_argument(
        "--cpu-window", type=int, default=5,
        help="requests per sample of the service's CPU time per request (default 5)",
    )  # fmt: skip
    add_api_key_argument(run)

    cmp = commands.add_parser("compare", help="compare a run with a baseline; exit 1 on a regression")
    cmp.add_argument(
        "--baseline", type=Path, help="baseline results.json; when absent or missing, this run becomes it"
    )
    cmp.add_argument("--current", type=Path, required=True, help="results.json of the run to judge")
    cmp.add_argument("--out", type=Path, required=True, help="directory for comparison, summary and chart")
    cmp.add_argument("--policy", type=Path, help="policy file, TOML or JSON (default: built-in policy)")
    cmp.add_argument(
        "--history", type=Path,
        help="history.json of past passing runs (may be missing): a change must also beat their spread; "
        "written to --out with this run added when it passes",
    )  # fmt: skip
    report = commands.add_parser(
        "report",
        help="post a comparison to GitHub: a PR comment, or an issue on a regression ($GITHUB_TOKEN)",
    )
    report.add_argument("--comparison", type=Path, required=True, help="comparison.json written by compare")
    report.add_argument("--summary", type=Path, required=True, help="summary.md written by compare")
    report.add_argument("--repository", required=True, help="OWNER/NAME")
    report.add_argument(
        "--pull-request", type=int, help="comment on this pull request (always, pass or fail)"
    )
    report.add_argument("--key", default="bench", help="which benchmark: one issue or comment per key")
    report.add_argument("--label", action="append", default=[], help="label for a new issue (repeatable)")
    report.add_argument("--run-url", help="link to the workflow run, added to the report")
    report.add_argument("--api-url", default=API_URL, help=f"GitHub API (default {API_URL})")
    return parser


def _base_url(url: str, flag: str) -> str:
    try:
        return http_url(url)
    except ValueError as exc:
        raise UsageError(f"{flag}: {exc}") from None


def _utterances(args: argparse.Namespace) -> tuple[list[Utterance], str]:
    if args.corpus_file is not None:
        return load_corpus_file(args.corpus_file), f"file:{args.corpus_file.name}"
    return args.corpus.utterances(), str(args.corpus)


def _text(body: dict[str, object] | None, key: str) -> str | None:
    value = (body or {}).get(key)
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class Measured:
    """A run's results and records; with `--against`, the baseline's too, and the pairs' values."""

    results: Results
    records: list[RequestRecord]
    baseline: tuple[Results, list[RequestRecord]] | None = None
    pairs: Pairs | None = None
    cpu_note: str | None = None


async def _clocks(sessions: Sequence[Session]) -> tuple[list[CpuClock] | None, str | None]:
    """Each target's CPU clock, or None (and why) unless every one has a clock."""
    clocks = [await find_clock(session.http, session.url) for session in sessions]
    missing = [session.url for session, clock in zip(sessions, clocks, strict=True) if clock is None]
    if missing:
        return None, (
            f"no CPU figure: {', '.join(missing)} is not a local vibevoice process and exports no "
            "process_cpu_seconds_total"
        )
    return [clock for clock in clocks if clock is not None], None


async def _measure(
    args: argparse.Namespace, urls: Sequence[str], plan: Plan, utterances: list[Utterance], corpus: str
) -> Measured:
    """Measure `urls[0]`, or (with a second URL, the baseline's) both interleaved."""
    driver = driver_for(args.target, args.protocol)
    async with contextlib.AsyncExitStack() as stack:
        sessions = [
            await stack.enter_async_context(
                open_session(
                    url,
                    concurrency=plan.concurrency,
                    timeout_s=plan.timeout_s,
                    voice=args.voice,
                    model=args.model,
                    api_key=args.api_key,
                )
            )
            for url in urls
        ]
        services: list[dict[str, object] | None] = []
        for session in sessions:
            found = None
            with anyio.move_on_after(READY_TIMEOUT_S):
                found = await describe_service(session.http, session.url)
            services.append(found)
        clocks, cpu_note = await _clocks(sessions)
        cpu = CpuWindows(list(reversed(clocks)), args.cpu_window) if clocks else None  # baseline first
        total = plan.requests * len(urls) if plan.requests is not None else None
        progress = Progress(sys.stderr, total=total, duration_s=plan.duration_s)
        stop = anyio.Event()
        done: list[Outcome | PairedOutcome] = []
        async with anyio.create_task_group() as tg:
            tg.start_soon(_stop_on_signal, stop)
            if len(sessions) == 1:
                done.append(
                    await execute(sessions[0], driver, utterances, plan, progress.update, stop=stop, cpu=cpu)
                )
            else:
                done.append(
                    await execute_pairs(
                        sessions[1], sessions[0], driver, utterances,
                        plan=plan, on_record=progress.update, seed=args.seed, stop=stop, cpu=cpu,
                    )
                )  # fmt: skip
            tg.cancel_scope.cancel()
        progress.close()
    machine = describe_machine()
    sources = [clock.source for clock in (clocks or [])]

    def results(outcome: Outcome, number: int, sha: str | None, other: str | None) -> Results:
        info = RunInfo(
            target=args.target,
            protocol=args.protocol,
            url=urls[number],
            engine=_text(services[number], "engine"),
            model=_text(services[number], "model"),
            git_sha=sha,
            concurrency=plan.concurrency,
            requests=plan.requests,
            duration_s=plan.duration_s,
            warmup=plan.warmup,
            timeout_s=plan.timeout_s,
            corpus=corpus,
            voice=args.voice,
            started_at=outcome.started_at,
            wall_s=round(outcome.wall_s, 6),
            service=services[number],
            complete=outcome.complete,
            cpu_source=sources[number] if sources else None,
            paired_with=other,
        )
        return build_results(outcome.records, info, machine, outcome.cpu_ms_per_request)

    outcome = done[0]
    if isinstance(outcome, Outcome):
        return Measured(results(outcome, 0, git_sha(args.git_sha), None), outcome.records, cpu_note=cpu_note)
    current = results(outcome.current, 0, git_sha(args.git_sha), urls[1])
    baseline = results(outcome.baseline, 1, args.against_git_sha, urls[0])  # no default: not this checkout
    return Measured(
        current,
        outcome.current.records,
        (baseline, outcome.baseline.records),
        pairs_of(outcome),
        cpu_note,
    )


async def _stop_on_signal(stop: anyio.Event) -> None:
    """Ctrl-C or SIGTERM: stop the run and keep what it measured; a second one quits at once."""
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            if stop.is_set():
                print("\nvibevoice-bench: stopped without saving", file=sys.stderr, flush=True)
                os._exit(EXIT_INTERRUPTED)
            print(
                "\nvibevoice-bench: interrupted; saving the requests finished so far "
                "(again to quit without saving)",
                file=sys.stderr,
                flush=True,
            )
            stop.set()


def _one_line(results: Results) -> str:
    run = results.run
    parts = [f"{run.target}/{run.protocol}: {counted(results.requests, 'request')}, {results.failed} failed"]
    if not run.complete:
        parts[0] = "INCOMPLETE (interrupted) " + parts[0]
    for name in ("ttfa_ms", "e2e_latency_ms"):
        m = results.metrics[name]
        if m.count:
            parts.append(f"{name} p50 {m.p50:.1f} p95 {m.p95:.1f}")
    parts.append(f"{results.throughput_rps:.2f} req/s")
    return ", ".join(parts)


def run_command(args: argparse.Namespace, stderr: TextIO) -> int:
    """`vibevoice-bench run` (and `run --against`)."""
    urls = [_base_url(args.url, "--url")] + ([_base_url(args.against, "--against")] if args.against else [])
    if len(urls) == 2 and urls[0] == urls[1]:
        raise UsageError("--against must name another service than --url")
    try:
        args.api_key = api_key(args.api_key_file)
    except ApiKeyError as exc:
        raise UsageError(str(exc)) from None
    driver_for(args.target, args.protocol)  # an unsupported pair is a usage error before any load
    policy = load_policy(args.policy, paired=True) if args.against else None
    if args.cpu_window < 1:
        raise UsageError("--cpu-window must be at least 1")
    requests = DEFAULT_REQUESTS if args.requests is None else args.requests
    try:
        plan = Plan(
            requests=None if args.duration is not None else requests,
            duration_s=args.duration,
            concurrency=args.concurrency,
            warmup=args.concurrency if args.warmup is None else args.warmup,
            timeout_s=args.timeout,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    utterances, corpus = _utterances(args)
    measured = anyio.run(_measure, args, urls, plan, utterances, corpus)
    out: Path = args.out
    _write_run(out, measured.results, measured.records, stderr)
    if measured.cpu_note:
        print(f"note: {measured.cpu_note}", file=stderr)
    complete = measured.results.run.complete
    if measured.baseline is None or policy is None:
        return EXIT_OK if complete else EXIT_INTERRUPTED
    baseline, records = measured.baseline
    _write_run(out / AGAINST, baseline, records, stderr)
    if baseline.error_rate > policy.error_rate.fail:
        raise UsageError(
            f"the baseline {baseline.run.url} failed {baseline.error_rate:.0%} of its requests: "
            "nothing to compare with"
        )
    comparison = compare(baseline, measured.results, policy, pairs=measured.pairs)
    _write_comparison(out, comparison, baseline, measured.results, stderr=stderr)
    if not complete:
        return EXIT_INTERRUPTED
    return EXIT_REGRESSION if comparison.verdict is Verdict.FAIL else EXIT_OK


def _write_run(out: Path, results: Results, records: Sequence[RequestRecord], stderr: TextIO) -> None:
    """A run's requests.jsonl and results.json, and its line on stderr."""
    _write(out / "requests.jsonl", "".join(r.model_dump_json() + "\n" for r in records))
    _write(out / "results.json", results.model_dump_json(indent=2) + "\n")
    print(_one_line(results), file=stderr)
    for error in results.error_summary:
        code = f" {error.code}" if error.code else ""
        print(f"  {error.count} x {error.type}{code}: {error.message}", file=stderr)
    print(f"wrote {out / 'results.json'} and {out / 'requests.jsonl'}", file=stderr)


def _write(path: Path, text: str) -> None:
    """Write `path` whole or not at all: a full disk or a cut-off run never leaves a truncated
    baseline.json or history.json behind for the next run to read (written beside it, then renamed)."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from exc


CHART = "chart.svg"
TREND = "trend.svg"


def _chart(comparison: Comparison, baseline: Results | None, current: Results) -> str:
    panels = []
    for metric in dict.fromkeys(check.metric for check in comparison.checks):
        verdicts = {c.verdict for c in comparison.checks if c.metric == metric}
        worst = next(
            (v for v in (Verdict.FAIL, Verdict.WARN, Verdict.IMPROVED) if v in verdicts), Verdict.PASS
        )
        cur = current.metrics.get(metric)
        base = baseline.metrics.get(metric) if baseline else None
        described = cur or base
        unit = described.unit if described else ""
        panels.append((metric, unit, base.samples if base else [], cur.samples if cur else [], worst))
    return distribution_svg(panels)


def compare_command(args: argparse.Namespace, stderr: TextIO) -> int:
    """`vibevoice-bench compare`."""
    policy = load_policy(args.policy)
    current = load_results(args.current)
    baseline_path: Path | None = args.baseline
    baseline = load_results(baseline_path) if baseline_path is not None and baseline_path.exists() else None
    history = load_history(args.history) if args.history is not None else None
    comparison = compare(baseline, current, policy, history)
    out: Path = args.out
    passed = comparison.verdict is not Verdict.FAIL
    entry = entry_for(current, (check.statistic for check in policy.checks), passed=passed)
    panels: list[Trend] = []
    trend_file: str | None = None
    if history is not None:  # the trend of the past runs, this one last
        units = {name: summary.unit for name, summary in current.metrics.items()}
        panels = trends(series(history, current), entry, units, policy)
        trend_file = TREND
        _write(out / TREND, trend_svg(panels, policy.history.min_runs))
    _write_comparison(out, comparison, baseline, current, panels=panels, trend_file=trend_file, stderr=stderr)
    if not current.run.complete:
        print("note: the current run was interrupted: never written as baseline or history", file=stderr)
        return EXIT_REGRESSION if not passed else EXIT_OK
    if passed:
        _write(out / "baseline.json", current.model_dump_json(indent=2) + "\n")
    if history is not None:  # a failing run joins too, marked: it never widens the spread (history.py)
        updated = appended(history, entry, policy.history.max_runs)
        _write(out / "history.json", updated.model_dump_json(indent=2) + "\n")
    return EXIT_OK if passed else EXIT_REGRESSION


def _write_comparison(
    out: Path,
    comparison: Comparison,
    baseline: Results | None,
    current: Results,
    *,
    panels: Sequence[Trend] = (),
    trend_file: str | None = None,
    stderr: TextIO,
) -> None:
    """comparison.json, the chart and summary.md, and the verdict with its reasons on stderr."""
    _write(out / "comparison.json", comparison.model_dump_json(indent=2) + "\n")
    _write(out / CHART, _chart(comparison, baseline, current))
    _write(out / "summary.md", summary_markdown(comparison, current, CHART, panels, trend_file))
    for check in comparison.checks:
        if check.verdict in (Verdict.FAIL, Verdict.WARN, Verdict.IMPROVED):
            print(f"{check.verdict}: {check.metric} {check.statistic}: {check.reason}", file=stderr)
    if comparison.error_rate.verdict is not Verdict.PASS:
        print(f"{comparison.error_rate.verdict}: error rate: {comparison.error_rate.reason}", file=stderr)
    for note in comparison.notes:
        print(f"note: {note}", file=stderr)
    print(f"verdict: {comparison.verdict} (see {out / 'summary.md'})", file=stderr)


async def _post_report(
    args: argparse.Namespace, token: str, verdict: Verdict, body: str, stderr: TextIO
) -> None:
    async with GitHub(token, args.repository, api_url=args.api_url) as github:
        if args.pull_request is not None:
            marker = f"<!-- vibevoice-bench:pr:{args.key} -->"
            posted = await github.report_comment(args.pull_request, body, marker)
            print(f"{'added' if posted.created else 'updated'} comment {posted.url}", file=stderr)
        elif verdict is Verdict.FAIL:
            marker = f"<!-- vibevoice-bench:regression:{args.key} -->"
            title = f"Performance regression ({args.key})"
            posted = await github.report_issue(title, body, marker, args.label)
            print(f"{'opened' if posted.created else 'updated'} issue {posted.url}", file=stderr)
        else:
            print(f"verdict {verdict}: no issue to open", file=stderr)


def report_command(args: argparse.Namespace, stderr: TextIO) -> int:
    """`vibevoice-bench report`: the token comes from $GITHUB_TOKEN, never from the command line."""
    token = os.environ.get("GITHUB_TOKEN", "")
    if not token:
        raise UsageError("set GITHUB_TOKEN (the token is never taken from the command line)")
    try:
        comparison = Comparison.model_validate_json(args.comparison.read_text(encoding="utf-8"))
        body = args.summary.read_text(encoding="utf-8")
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read the comparison: {exc}") from exc
    if args.run_url:
        body += f"\n[Workflow run]({args.run_url})\n"
    try:
        anyio.run(_post_report, args, token, comparison.verdict, body, stderr)
    except (GitHubError, ValueError) as exc:
        raise UsageError(f"GitHub: {exc}") from exc
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the command; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "run":
            return run_command(args, sys.stderr)
        if args.command == "report":
            return report_command(args, sys.stderr)
        return compare_command(args, sys.stderr)
    except (UsageError, UnsupportedScenario, CorpusError, PolicyError, ResultsError) as exc:
        print(f"vibevoice-bench {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
