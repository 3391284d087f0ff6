#!/usr/bin/env python3
"""The gate's sensitivity: which TTFA regressions it catches, and its false alarms, in both of its modes.

--mode history (the nightly's: a run against the last good night and the history of past nights):

The service is `vibevoice-tts --engine espeak` (the nightly image's engine) on loopback, measured by
`vibevoice-bench run` as the nightly measures its tts-http scenario (--requests, --concurrency,
--corpus, --warmup).

1. Nights: --nights runs of the unchanged build: the history. Each is also gated against the last good
   one as the nightly chains them, and how many pass is reported.
2. Trials: --trials times, a baseline run of the unchanged build, then back to back (in an order that
   alternates) two more runs of it: one gated as it is, where a fail is a false alarm, and one made a
   slowed build for each of --factors, where a fail is a catch. Each is gated against the trial's
   baseline with the history.

A slowed build is that run with every request's first audio `factor` times later (and its end as much
later): the regression is injected into the measured requests, not in front of the service. A delay
in front of the service (a proxy on loopback, tried first) does not test the gate: at the nightly's
concurrency of 4 on 2 cores the service is saturated (a synthesis slot per core, the other requests
queue), so time a request spends outside the service is time the others do not wait in its queue, and
the closed loop absorbs most of it (a 2x delay showed as 1.12x). A real regression inside the service
holds its slot, and shows at least `factor` times.

Every verdict comes from the very function `vibevoice-bench compare` calls, under --policy (default:
the built-in one). `--rejudge DIR` judges the runs of an earlier history sweep again, under another
--policy, without measuring anything.

--mode ab (a pull request's: `vibevoice-bench run --url HEAD --against BASE`, both measured interleaved
in one run and judged pair by pair): the targets are `vibevoice-tts --engine sine` services whose
every synthesis spends CPU time before its first chunk (`--sine-first-cpu-ms`), in a worker thread:
the baseline with --work-ms, an identical second process (a fail against it is a false alarm) and one
per factor with more work (a fail is a catch). The regression is real CPU work inside the service: it
holds the request's synthesis slot and competes for the cores with everything else on the machine, so
the load stretches it as it stretches real synthesis code, which a sleep or a delaying proxy would
not. A factor is of the time to first audio, as in the history mode: a calibration run first
measures the baseline's TTFA against a target with no work (the service's own path and the machine's
wake-ups, which more work does not slow), and each factor's work is set so that its TTFA is `factor`
times the baseline's; the table reports the TTFA p50 ratio each one showed. Each trial runs
`vibevoice-bench run --against` for every target, in an order that rotates.

Writes sweep.json and sweep.md to --out, the runs under --out/runs.

    scripts/bench-noise.py --out DIR [--mode history] [--trials 15] [--nights 8]
                           [--factors 1.1,1.25,1.5,2] [--requests 200] [--concurrency 4]
                           [--policy FILE] [--rejudge DIR]
    scripts/bench-noise.py --out DIR --mode ab [--work-ms 10] [--requests 100] [--concurrency 2]
                           [--corpus short] [--trials 15] [--factors ...] [--policy FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from vibevoice_platform.bench.cli import AGAINST
from vibevoice_platform.bench.compare import Comparison, Verdict, compare
from vibevoice_platform.bench.history import History, appended, entry_for
from vibevoice_platform.bench.policy import Policy, load_policy
from vibevoice_platform.bench.records import RequestRecord
from vibevoice_platform.bench.results import Results, build_results, load_results

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.support.processes import free_port, running  # noqa: E402  (the repo's process helper)

ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
CONTROL = "unchanged"
GOAL = 14  # catches of 15 trials that count as "caught"


# --- measuring -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    """How each run drives the service: the nightly's tts-http settings by default."""

    requests: int
    concurrency: int
    corpus: str
    warmup: int | None


@dataclass(frozen=True)
class Planned:
    """One run of the sweep: its folder under runs/, what it is, and how it went."""

    name: str
    kind: str  # "night", "baseline", CONTROL or "slowed"
    trial: int | None
    wall_s: float = 0.0  # the whole `vibevoice-bench run` command, start-up included
    load1: float = 0.0  # the 1-minute load average as it ended


def label(factor: float) -> str:
    return f"{factor:g}x"


def plan(nights: int, trials: int) -> list[Planned]:
    """The runs in the order they are measured: nights, then each trial's three runs."""
    runs = [Planned(f"night-{n:02d}", "night", None) for n in range(nights)]
    for trial in range(trials):
        pair = [CONTROL, "slowed"] if trial % 2 == 0 else ["slowed", CONTROL]
        runs += [Planned(f"trial-{trial:02d}-{kind}", kind, trial) for kind in ["baseline", *pair]]
    return runs


def measure(runs: Sequence[Planned], load: Load, out: Path) -> list[Planned]:
    """Start the service and make every run; each run's wall time and load average."""
    done: list[Planned] = []
    port = free_port()
    command = ["vibevoice-tts", "--engine", "espeak", "--port", str(port)]
    with ExitStack() as stack:
        service = stack.enter_context(running(command, port=port))
        for number, run in enumerate(runs, 1):
            argv = [
                "vibevoice-bench", "run", "--target", "tts", "--url", service.url,
                "--requests", str(load.requests), "--concurrency", str(load.concurrency),
                "--corpus", load.corpus, "--git-sha", "0" * 40, "--out", str(out / run.name),
            ]  # fmt: skip
            if load.warmup is not None:
                argv += ["--warmup", str(load.warmup)]
            started = time.perf_counter()
            code = subprocess.run(argv, env=ENV, capture_output=True, check=False).returncode
            if code != 0:
                raise SystemExit(f"vibevoice-bench run exited {code} for {run.name}")
            wall = round(time.perf_counter() - started, 3)
            done.append(Planned(run.name, run.kind, run.trial, wall, os.getloadavg()[0]))
            print(
                f"[{number}/{len(runs)}] {run.name}: {wall:.1f} s, load {done[-1].load1:.2f}", file=sys.stderr
            )
    return done


# --- the A/B mode --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pairing:
    """How each A/B run drives the two targets."""

    requests: int  # pairs
    concurrency: int
    corpus: str
    warmup: int | None
    work_ms: float  # CPU time of the baseline's first chunk


def run_against(pairing: Pairing, url: str, base: str, out: Path, *, seed: int, policy: Path | None) -> float:
    """`vibevoice-bench run --url URL --against BASE` (exit 0 or 1); its wall time."""
    argv = [
        "vibevoice-bench", "run", "--target", "tts", "--url", url, "--against", base,
        "--requests", str(pairing.requests), "--concurrency", str(pairing.concurrency),
        "--corpus", pairing.corpus, "--seed", str(seed), "--git-sha", "0" * 40, "--out", str(out),
    ]  # fmt: skip
    argv += ["--warmup", str(pairing.warmup)] if pairing.warmup is not None else []
    argv += ["--policy", str(policy)] if policy is not None else []
    started = time.perf_counter()
    code = subprocess.run(argv, env=ENV, capture_output=True, check=False).returncode
    if code not in (0, 1):
        raise SystemExit(f"vibevoice-bench run --against exited {code} for {out.name}")
    return round(time.perf_counter() - started, 3)


def ab_measure(
    pairing: Pairing, factors: Sequence[float], trials: int, policy: Path | None, folder: Path
) -> tuple[list[Planned], list[Judged], dict[str, float]]:
    """Calibrate, start the targets, then each trial's `run --against` for the unchanged build and
    every factor; (runs, verdicts, the calibration and each target's work)."""
    planned: list[Planned] = []
    judged: list[Judged] = []
    with ExitStack() as stack:

        def start(work_ms: float) -> str:
            port = free_port()
            command = ["vibevoice-tts", "--engine", "sine", "--sine-first-cpu-ms", f"{work_ms:g}"]
            return stack.enter_context(running([*command, "--port", str(port)], port=port)).url

        base = start(pairing.work_ms)
        with ExitStack() as calibration:
            port = free_port()
            command = ["vibevoice-tts", "--engine", "sine", "--port", str(port)]
            idle = calibration.enter_context(running(command, port=port)).url
            run_against(pairing, idle, base, folder / "calibration", seed=0, policy=policy)
        ttfa = {
            side: load_results(folder / "calibration" / path / "results.json").metrics["ttfa_ms"].p50 or 0.0
            for side, path in (("work", AGAINST), ("none", "."))
        }
        # The baseline's TTFA is its work, stretched by the load, plus what no work costs; more work
        # stretches the same way, so factor f needs the extra work that adds (f - 1) x its TTFA.
        stretch = (ttfa["work"] - ttfa["none"]) / pairing.work_ms
        if stretch <= 0:
            raise SystemExit(f"calibration: no slower with {pairing.work_ms:g} ms of work ({ttfa})")
        work = {
            CONTROL: pairing.work_ms,
            **{label(f): pairing.work_ms + (f - 1) * ttfa["work"] / stretch for f in factors},
        }
        urls = {kind: start(ms) for kind, ms in work.items()}
        kinds = list(urls)
        for trial in range(trials):
            turn = trial % len(kinds)
            for kind in kinds[turn:] + kinds[:turn]:
                name = f"trial-{trial:02d}-{kind}"
                wall = run_against(pairing, urls[kind], base, folder / name, seed=trial, policy=policy)
                planned.append(Planned(name, kind, trial, wall, os.getloadavg()[0]))
                judged.append(ab_verdict(folder / name, trial, kind))
                print(f"[{len(planned)}/{trials * len(kinds)}] {name}: {judged[-1].verdict}, {wall:.1f} s, "
                      f"load {planned[-1].load1:.2f}", file=sys.stderr)  # fmt: skip
    calibrated = {f"ttfa_p50_{side}_ms": round(value, 3) for side, value in ttfa.items()}
    return planned, judged, {**calibrated, **{f"work_ms_{kind}": round(ms, 3) for kind, ms in work.items()}}


def ab_verdict(folder: Path, trial: int, kind: str) -> Judged:
    """What `run --against` decided, from its comparison.json."""
    comparison = Comparison.model_validate_json((folder / "comparison.json").read_text(encoding="utf-8"))

    def ratio(metric: str) -> float | None:
        found = [c for c in comparison.checks if (c.metric, c.statistic) == (metric, "p50")]
        if not found or found[0].baseline is None or found[0].current is None or not found[0].baseline:
            return None
        return round(found[0].current / found[0].baseline, 4)

    failed = [f"{c.metric} {c.statistic}" for c in comparison.checks if c.verdict is Verdict.FAIL]
    return Judged(
        trial, kind, str(comparison.verdict), failed, ratio("ttfa_ms") or 0.0, ratio("cpu_ms_per_request")
    )


# --- judging -------------------------------------------------------------------------------------


def slowed(folder: Path, factor: float) -> Results:
    """The run in `folder` as a build whose first audio comes `factor` times later (and so its end)."""
    measured = load_results(folder / "results.json")
    records = [
        RequestRecord.model_validate_json(line)
        for line in (folder / "requests.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    for record in records:
        if record.ttfa_ms is not None:
            extra = (factor - 1) * record.ttfa_ms
            record.ttfa_ms += extra
            record.e2e_latency_ms = None if record.e2e_latency_ms is None else record.e2e_latency_ms + extra
    return build_results(records, measured.run, measured.testbed)


@dataclass(frozen=True)
class Judged:
    """One gate's verdict on a trial's run."""

    trial: int
    kind: str  # CONTROL or a factor's label
    verdict: str
    failed: list[str]  # the checks that failed
    ttfa_p50_ratio: float  # this run's TTFA p50 over its baseline's
    cpu_p50_ratio: float | None = None  # the same of the service's CPU per request (A/B mode)


def judge(
    runs: Sequence[Planned], folder: Path, policy: Policy, factors: Sequence[float]
) -> tuple[int, list[Judged]]:
    """Gate the nights in a chain as the nightly does, then every trial against its baseline with the
    history of all the nights; (nights the chain passed, verdicts).

    All the nights make the history, whatever the chain said: they are runs of the unchanged build,
    which is what a nightly history holds once it is running. The chain's passes are reported (a
    failing night joins its history marked, as `compare` writes it, and never becomes the baseline)."""
    extra = [check.statistic for check in policy.checks]
    chained, history, last, passed = History(), History(), None, 0
    for run in (r for r in runs if r.kind == "night"):
        current = load_results(folder / run.name / "results.json")
        ok = compare(last, current, policy, chained).verdict is not Verdict.FAIL
        if ok:
            passed += 1
            last = current
        chained = appended(chained, entry_for(current, extra, passed=ok), policy.history.max_runs)
        history = appended(history, entry_for(current, extra), policy.history.max_runs)
    judged: list[Judged] = []
    for run in runs:
        if run.trial is None or run.kind == "baseline":
            continue
        baseline = load_results(folder / f"trial-{run.trial:02d}-baseline" / "results.json")
        if run.kind == CONTROL:
            cases = [(CONTROL, load_results(folder / run.name / "results.json"))]
        else:
            cases = [(label(f), slowed(folder / run.name, f)) for f in factors]
        for kind, current in cases:
            comparison = compare(baseline, current, policy, history)
            failed = [f"{c.metric} {c.statistic}" for c in comparison.checks if c.verdict is Verdict.FAIL]
            ratio = float(current.metrics["ttfa_ms"].p50 or 0) / float(baseline.metrics["ttfa_ms"].p50 or 1)
            judged.append(Judged(run.trial, kind, str(comparison.verdict), failed, round(ratio, 4)))
    return passed, judged


def table(judged: Sequence[Judged], kinds: Sequence[str]) -> list[dict[str, object]]:
    """Per kind: trials, fails (false alarms for the unchanged build, catches otherwise), warnings,
    and the median TTFA p50 ratio it showed."""
    rows: list[dict[str, object]] = []
    for kind in kinds:
        mine = [j for j in judged if j.kind == kind]
        ratio = round(statistics.median(j.ttfa_p50_ratio for j in mine), 3) if mine else None
        cpu = [j.cpu_p50_ratio for j in mine if j.cpu_p50_ratio is not None]
        rows.append({
            "kind": kind,
            "trials": len(mine),
            "failed": sum(j.verdict == "fail" for j in mine),
            "warned": sum(j.verdict == "warn" for j in mine),
            "ttfa_p50_ratio_median": ratio,
            "cpu_p50_ratio_median": round(statistics.median(cpu), 3) if cpu else None,
        })  # fmt: skip
    return rows


def markdown(report: dict[str, object], rows: Sequence[dict[str, object]], load1: Sequence[float]) -> str:
    """The sweep as a Markdown table with its settings."""
    lines = [
        "| regression | caught (gate fails) | warned | TTFA p50, run / baseline (median) | CPU p50 ratio |",
        "|:--|--:|--:|--:|--:|",
    ]
    for row in rows:
        kind, trials, failed = row["kind"], row["trials"], row["failed"]
        what = f"{failed}/{trials} false alarms" if kind == CONTROL else f"{failed}/{trials}"
        cpu = row["cpu_p50_ratio_median"] or "-"
        lines.append(
            f"| {kind} | {what} | {row['warned']}/{trials} | {row['ttfa_p50_ratio_median']} | {cpu} |"
        )
    smallest = report["smallest_caught"]
    history = (
        f"; history: {report['nights']} nights, of which the nightly's chain passed {report['nights_passed']}"
        if report["mode"] == "history"
        else ""
    )
    lines += [
        "",
        f"Mode {report['mode']}. Smallest regression caught in {GOAL} of {report['trials']} trials: "
        f"{smallest or 'none'} (false alarms {report['false_alarms']}/{report['trials']}).",
        f"Settings: {report['settings']}{history}.",
        f"Per run (the whole `vibevoice-bench run`): median {report['run_wall_s_median']} s, max "
        f"{report['run_wall_s_max']} s; 1-minute load average (min / median / max) "
        f"{' / '.join(f'{v:g}' for v in load1)} on {os.cpu_count()} cores.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    """Measure (or re-read) the runs, judge them, write sweep.json and sweep.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, required=True, help="folder for sweep.json, sweep.md, runs/")
    parser.add_argument(
        "--mode", choices=["history", "ab"], default="history", help="which gate (default history)"
    )
    parser.add_argument("--trials", type=int, default=15)
    parser.add_argument("--nights", type=int, default=8, help="history: runs that build the history first")
    parser.add_argument("--factors", default="1.1,1.25,1.5,2", help="TTFA regressions, comma-separated")
    parser.add_argument("--requests", type=int, help="per run (history: 200, the nightly's; ab: 100 pairs)")
    parser.add_argument("--concurrency", type=int, help="(history: 4, the nightly's; ab: 2)")
    parser.add_argument("--corpus", help="(history: mixed, the nightly's; ab: short)")
    parser.add_argument("--warmup", type=int, help="unrecorded requests first (default: the concurrency)")
    parser.add_argument(
        "--work-ms", type=float, default=10.0, help="ab: CPU ms of the baseline's first chunk"
    )
    parser.add_argument("--policy", type=Path, help="regression policy (default: the built-in one)")
    parser.add_argument(
        "--rejudge", type=Path, help="history: an earlier sweep's --out: judge its runs again"
    )
    args = parser.parse_args()
    factors = sorted(float(f) for f in args.factors.split(","))
    policy = load_policy(args.policy, paired=args.mode == "ab")
    out: Path = args.out
    passed, nights = 0, 0
    settings: object
    if args.mode == "ab":
        pairing = Pairing(
            args.requests or 100, args.concurrency or 2, args.corpus or "short", args.warmup, args.work_ms
        )
        runs, judged, calibration = ab_measure(pairing, factors, args.trials, args.policy, out / "runs")
        settings = {**pairing.__dict__, **calibration}
    else:
        if args.rejudge is not None:
            earlier = json.loads((args.rejudge / "sweep.json").read_text(encoding="utf-8"))
            runs = [Planned(**r) for r in earlier["runs"]]
            folder, settings = args.rejudge / "runs", earlier["settings"]
        else:
            load = Load(args.requests or 200, args.concurrency or 4, args.corpus or "mixed", args.warmup)
            folder, settings = out / "runs", load.__dict__
            runs = measure(plan(args.nights, args.trials), load, folder)
        passed, judged = judge(runs, folder, policy, factors)
        nights = sum(r.kind == "night" for r in runs)
    kinds = [CONTROL, *(label(f) for f in factors)]
    rows = table(judged, kinds)
    trials = max((r.trial for r in runs if r.trial is not None), default=-1) + 1
    false_alarms = next(int(str(r["failed"])) for r in rows if r["kind"] == CONTROL)
    caught = [str(r["kind"]) for r in rows if r["kind"] != CONTROL and int(str(r["failed"])) >= GOAL]
    walls = [r.wall_s for r in runs]
    loads = sorted(r.load1 for r in runs)
    load1 = [round(loads[0], 2), round(statistics.median(loads), 2), round(loads[-1], 2)]
    report: dict[str, object] = {
        "mode": args.mode,
        "settings": settings,
        "policy": policy.model_dump(mode="json"),
        "trials": trials,
        "nights": nights,
        "nights_passed": passed,
        "false_alarms": false_alarms,
        "smallest_caught": caught[0] if caught and false_alarms <= 1 else None,
        "table": rows,
        "run_wall_s_median": round(statistics.median(walls), 2),
        "run_wall_s_max": round(max(walls), 2),
        "load1": dict(zip(("min", "median", "max"), load1, strict=True)),
        "verdicts": [j.__dict__ for j in judged],
        "runs": [r.__dict__ for r in runs],
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "sweep.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    text = markdown(report, rows, load1)
    (out / "sweep.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
