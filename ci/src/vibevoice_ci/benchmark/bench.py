"""The benchmark in the pipeline: its scenarios, where its files live, and every command line it runs.

`bench` measures each scenario against the services bound as `tts` and `agent`, then gates it with
`vibevoice-bench compare` against the last good run: `<last>/<scenario>/baseline.json` and
`history.json`, the very files a passing run writes into `<out>/<scenario>/`, so the output of one
night is the input of the next. `make bench` (scripts/bench-local.py) runs the same command lines
against local processes, and `bench-report` posts a comparison with the token only in $GITHUB_TOKEN.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import cast

from vibevoice_ci.images.catalog import AGENT, TTS

# Inside the client container: the shipped TTS image, whose unprivileged user may write /tmp only.
LAST_DIR = "/tmp/bench-last"  # noqa: S108 - the last good run's <scenario>/baseline.json, history.json
OUT_DIR = "/tmp/bench-out"  # noqa: S108 - what `bench` returns
POLICY_FILE = "/tmp/bench-policy.toml"  # noqa: S108
REPORT_COMPARISON = "/tmp/bench-report/comparison.json"  # noqa: S108
REPORT_SUMMARY = "/tmp/bench-report/summary.md"  # noqa: S108
# In each scenario's output: the comparison and its summary, and, where the gate passed, what the next
# run is gated against.
COMPARISON = "comparison.json"
SUMMARY = "summary.md"
NEXT_BASELINE = ("baseline.json", "history.json")
# Changes on every call, so the engine never serves a measurement from its cache.
RUN_ID_VARIABLE = "VIBEVOICE_BENCH_RUN"
TOKEN_VARIABLE = "GITHUB_TOKEN"  # noqa: S105 - the variable's name; `vibevoice-bench report` reads it

# 100 requests leave 5 beyond p95, the fewest `compare` judges a p95 from (its tail_samples).
DEFAULT_REQUESTS = 200
DEFAULT_CONCURRENCY = 4
DEFAULT_TIMEOUT_S = 60.0
CORPORA = ("short", "long", "mixed")  # vibevoice-bench's built-in texts: turns, paragraphs, both
DEFAULT_CORPUS = "mixed"
DEFAULT_REPORT_KEY = "nightly"
GITHUB_API = "https://api.github.com"

_REPOSITORY = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
_KEY = re.compile(r"[a-z0-9][a-z0-9_.-]*")
_SHA = re.compile(r"[0-9a-f]{7,40}")


@dataclass(frozen=True)
class Scenario:
    """One measured scenario: what `vibevoice-bench run` drives, and which service it loads."""

    name: str
    target: str
    protocol: str
    service: str


SCENARIOS: Mapping[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("tts-http", target="tts", protocol="http", service=TTS.name),
        Scenario("tts-ws", target="tts", protocol="ws", service=TTS.name),
        Scenario("agent", target="agent", protocol="http", service=AGENT.name),
    )
}
SCENARIO_NAMES = tuple(SCENARIOS)
# Where the services answer the client container: their binding aliases.
SERVICE_URLS: Mapping[str, str] = {TTS.name: TTS.url, AGENT.name: AGENT.url}


@dataclass(frozen=True)
class Load:
    """How hard each scenario is driven."""

    requests: int = DEFAULT_REQUESTS
    concurrency: int = DEFAULT_CONCURRENCY
    warmup: int | None = None  # None: vibevoice-bench's default (one per worker)
    timeout_s: float = DEFAULT_TIMEOUT_S
    corpus: str = DEFAULT_CORPUS

    def __post_init__(self) -> None:
        if self.requests < 1:
            raise ValueError(f"requests must be at least 1, not {self.requests}")
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {self.concurrency}")
        if self.warmup is not None and self.warmup < 0:
            raise ValueError(f"warmup must not be negative, not {self.warmup}")
        if not self.timeout_s > 0:
            raise ValueError(f"timeout must be positive, not {self.timeout_s:g}")
        if self.corpus not in CORPORA:
            raise ValueError(f"unknown corpus {self.corpus!r}; choose from: {', '.join(CORPORA)}")


def scenarios(names: Sequence[str]) -> list[Scenario]:
    """The scenarios called `names`, in order, without duplicates; at least one."""
    chosen: list[Scenario] = []
    for raw in names:
        name = raw.strip().lower()
        if name not in SCENARIOS:
            raise ValueError(f"unknown scenario {raw!r}; choose from: {', '.join(SCENARIO_NAMES)}")
        if SCENARIOS[name] not in chosen:
            chosen.append(SCENARIOS[name])
    if not chosen:
        raise ValueError("at least one scenario is needed")
    return chosen


def git_sha(value: str) -> str:
    """A commit id as given (lowercased), or "" for none; anything else is refused."""
    sha = value.strip().lower()
    if sha and not _SHA.fullmatch(sha):
        raise ValueError(f"not a git commit id: {value!r}")
    return sha


def run(scenario: Scenario, load: Load, *, url: str, out_root: str, sha: str = "") -> list[str]:
    """`vibevoice-bench run` for one scenario, writing into `<out_root>/<scenario>/`."""
    argv = [
        "vibevoice-bench", "run",
        "--target", scenario.target, "--protocol", scenario.protocol, "--url", url,
        "--requests", str(load.requests), "--concurrency", str(load.concurrency),
        "--timeout", f"{load.timeout_s:g}", "--corpus", load.corpus,
        "--out", f"{out_root}/{scenario.name}",
    ]  # fmt: skip
    if load.warmup is not None:
        argv += ["--warmup", str(load.warmup)]
    if sha := git_sha(sha):
        argv += ["--git-sha", sha]
    return argv


def compare(scenario: Scenario, *, out_root: str, last_root: str, policy: str | None = None) -> list[str]:
    """`vibevoice-bench compare` of a scenario's run with the last good one (missing files: the first
    run, which becomes the baseline); exits 1 on a regression."""
    last, out = f"{last_root}/{scenario.name}", f"{out_root}/{scenario.name}"
    argv = [
        "vibevoice-bench", "compare",
        "--baseline", f"{last}/baseline.json", "--history", f"{last}/history.json",
        "--current", f"{out}/results.json", "--out", out,
    ]  # fmt: skip
    return [*argv, "--policy", policy] if policy else argv


def report(
    *,
    comparison: str,
    summary: str,
    repository: str,
    key: str = DEFAULT_REPORT_KEY,
    pull_request: int | None = None,
    run_url: str = "",
    api_url: str = GITHUB_API,
) -> list[str]:
    """`vibevoice-bench report`: one issue per key on a regression, or one comment on a pull request.

    The token is not an argument: the command reads it from $GITHUB_TOKEN.
    """
    if not _REPOSITORY.fullmatch(repository):
        raise ValueError(f"repository must be OWNER/NAME, not {repository!r}")
    if not _KEY.fullmatch(key):
        raise ValueError(f"key must be lowercase letters, digits, '.', '_' or '-', not {key!r}")
    argv = [
        "vibevoice-bench", "report",
        "--comparison", comparison, "--summary", summary,
        "--repository", repository, "--key", key,
    ]  # fmt: skip
    if pull_request is not None:
        if pull_request < 1:
            raise ValueError(f"pull request numbers start at 1, not {pull_request}")
        argv += ["--pull-request", str(pull_request)]
    if run_url:
        if not run_url.startswith(("https://", "http://")):
            raise ValueError(f"run URL must be an http(s) URL, not {run_url!r}")
        argv += ["--run-url", run_url]
    if api_url.rstrip("/") != GITHUB_API:
        argv += ["--api-url", api_url]
    return argv


class Regression(Exception):
    """A scenario's comparison with the last good run failed; the message has every summary."""


def verdict(comparison: str) -> str:
    """The verdict of a comparison.json: pass, warn, improved or fail."""
    try:
        document = json.loads(comparison)
    except json.JSONDecodeError as exc:
        raise ValueError(f"comparison.json is not JSON: {exc}") from None
    fields = cast("dict[str, object]", document) if isinstance(document, dict) else {}
    value = fields.get("verdict")
    if not isinstance(value, str):
        raise ValueError("comparison.json has no verdict")
    return value


def regressed(verdicts: Mapping[str, str]) -> list[str]:
    """The scenarios whose comparison failed, in order; none fails the gate."""
    if not verdicts:
        raise ValueError("no scenario has a comparison.json: nothing to gate")
    return [scenario for scenario, value in verdicts.items() if value == "fail"]


def regression_report(failed: Sequence[str], summaries: Mapping[str, str]) -> str:
    """What the gate says when it fails: each regressed scenario's summary."""
    parts = [f"performance regression in {', '.join(failed)}"]
    parts += [summaries[scenario].strip() for scenario in failed]
    return "\n\n".join(parts)


def report_key(key: str, scenario: str) -> str:
    """The report key of one scenario: one issue (or comment) per benchmark and scenario."""
    return f"{key}-{scenario}"
