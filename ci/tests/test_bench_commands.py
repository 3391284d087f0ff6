"""The benchmark's command lines and verdicts (vibevoice_ci.bench), unit-tested and run here for real.

The integration tests run the very argument lists `bench` and `bench-report` run in their containers:
vibevoice-bench against a real TTS (sine engine) and a real agent (scripted LLM) on loopback, two
nights in a row with the first night's output as the second's last good run, as the workflow chains
them; and the report against the fake GitHub API, with the token only in the environment.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import pytest
from vibevoice_ci.benchmark import bench

from tests.bench.factories import make_results, noisy
from tests.bench.fake_github import fake_github_process
from tests.support.processes import Service, free_port, running
from tests.support.tools import ROOT, require_tool

SHA = "0123456789abcdef0123456789abcdef01234567"
TOKEN = "ghs_fake_token_for_the_pipeline_tests"  # noqa: S105 - the fake GitHub's own
REPOSITORY = "octo/voice"
RUN_URL = "https://github.com/octo/voice/actions/runs/42"


def execute(argv: Sequence[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `argv` as the container does, with this venv's scripts (vibevoice-bench) first on PATH."""
    tool = require_tool("vibevoice-bench", "make venv")
    path = f"{Path(tool).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return subprocess.run(
        list(argv),
        cwd=ROOT,
        env={**os.environ, "PATH": path, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


# -- the command lines ---------------------------------------------------------------------------


def test_the_nightly_scenarios_cover_the_tts_over_http_and_websocket_and_the_agent() -> None:
    assert bench.SCENARIO_NAMES == ("tts-http", "tts-ws", "agent")
    assert [(s.target, s.protocol, bench.SERVICE_URLS[s.service]) for s in bench.SCENARIOS.values()] == [
        ("tts", "http", "http://tts:8000"),
        ("tts", "ws", "http://tts:8000"),
        ("agent", "http", "http://agent:8080"),
    ]
    assert bench.scenarios([" Agent", "tts-http", "agent"]) == [
        bench.SCENARIOS["agent"],
        bench.SCENARIOS["tts-http"],
    ]


def test_the_default_load_judges_p95_and_leaves_the_warmup_to_vibevoice_bench() -> None:
    load = bench.Load()
    assert load.requests >= 100  # `compare` judges a p95 from 100 samples (5 beyond it)
    argv = bench.run(bench.SCENARIOS["agent"], load, url="http://agent:8080", out_root="/o")
    assert "--warmup" not in argv
    assert "--git-sha" not in argv


def test_a_commit_id_is_checked_and_lowercased() -> None:
    assert bench.git_sha(f" {SHA.upper()} ") == SHA
    assert bench.git_sha("") == ""
    with pytest.raises(ValueError, match="not a git commit id"):
        bench.git_sha("main")


# -- the gate: decided in the module, so `dagger call bench` on a laptop fails as GitHub's run does ------


@pytest.mark.parametrize(
    ("document", "verdict"),
    [
        ('{"verdict": "fail", "checks": []}', "fail"),
        ('{"verdict": "pass"}', "pass"),
        ('{"verdict": "warn"}', "warn"),
    ],
)
def test_the_verdict_is_read_from_comparison_json(document: str, verdict: str) -> None:
    assert bench.verdict(document) == verdict


@pytest.mark.parametrize(
    ("document", "message"), [("[]", "no verdict"), ("{", "not JSON"), ("{}", "no verdict")]
)
def test_a_comparison_without_a_verdict_is_refused(document: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        bench.verdict(document)


def test_any_failed_scenario_fails_the_gate_and_warnings_do_not() -> None:
    assert bench.regressed({"tts-http": "pass", "tts-ws": "warn", "agent": "improved"}) == []
    assert bench.regressed({"tts-http": "fail", "tts-ws": "pass", "agent": "fail"}) == ["tts-http", "agent"]
    with pytest.raises(ValueError, match="nothing to gate"):
        bench.regressed({})


def test_the_gates_message_carries_each_regressed_summary() -> None:
    report = bench.regression_report(["agent"], {"agent": "## agent\np95 ttfa: fail\n", "tts-http": "pass"})
    assert report.splitlines()[0] == "performance regression in agent"
    assert "p95 ttfa: fail" in report
    assert "pass" not in report.splitlines()[-1]


def test_each_scenario_reports_under_its_own_key() -> None:
    assert bench.report_key("nightly", "tts-ws") == "nightly-tts-ws"


# -- run for real: vibevoice-bench run and compare -----------------------------------------------


@pytest.fixture(scope="module")
def tts() -> Iterator[Service]:
    port = free_port()
    command = ["vibevoice-tts", "--engine", "sine", "--port", str(port)]  # as fast as it can
    with running([*command, "--max-concurrency", "8"], port=port) as service:
        yield service


@pytest.fixture(scope="module")
def agent(tts: Service) -> Iterator[Service]:
    port = free_port()
    with running(
        ["vibevoice-agent", "--llm", "scripted", "--tts-url", tts.url, "--port", str(port)], port=port
    ) as a:
        yield a


def night(urls: dict[str, str], out: Path, last: Path) -> dict[str, dict[str, object]]:
    """Every scenario's run and gate, in the order `bench` runs them; each comparison.json."""
    load = bench.Load(requests=12, concurrency=2, timeout_s=30, corpus="short")
    comparisons: dict[str, dict[str, object]] = {}
    for scenario in bench.scenarios(bench.SCENARIO_NAMES):
        measured = execute(bench.run(scenario, load, url=urls[scenario.service], out_root=str(out), sha=SHA))
        assert measured.returncode == 0, measured.stderr
        gated = execute(bench.compare(scenario, out_root=str(out), last_root=str(last)))
        assert gated.returncode in (0, 1), gated.stderr  # 1: a regression, still a comparison
        comparisons[scenario.name] = json.loads((out / scenario.name / "comparison.json").read_text())
    return comparisons


# What each scenario's folder shows a reader: the table, the distributions, the nights' trend.
OUTPUT_REPORTS = ("summary.md", "chart.svg", "trend.svg")


@pytest.mark.integration
def test_two_nights_of_the_pipelines_command_lines_against_real_services(
    tts: Service, agent: Service, tmp_path: Path
) -> None:
    urls = {"tts": tts.url, "agent": agent.url}
    first = night(urls, tmp_path / "first", last=tmp_path / "nothing-yet")
    for name, comparison in first.items():
        assert comparison["baseline_created"] is True, name
        folder = tmp_path / "first" / name
        for produced in (*("results.json", "requests.jsonl", "comparison.json"), *OUTPUT_REPORTS):
            assert (folder / produced).is_file(), f"{name}/{produced}"
        assert json.loads((folder / "results.json").read_text())["error_rate"] == 0.0, name
        assert json.loads((folder / "results.json").read_text())["run"]["git_sha"] == SHA
        assert len(json.loads((folder / "history.json").read_text())["runs"]) == 1

    second = night(urls, tmp_path / "second", last=tmp_path / "first")
    for name, comparison in second.items():
        assert comparison["baseline_created"] is False, name
        assert comparison["history_runs"] == 1, name
        baseline = comparison["baseline"]
        assert isinstance(baseline, dict)
        assert baseline["git_sha"] == SHA
    targets = {
        json.loads((tmp_path / "second" / n / "results.json").read_text())["run"]["target"] for n in second
    }
    assert targets == {"tts", "agent"}


# -- run for real: vibevoice-bench report against the fake GitHub -----------------------------------


@pytest.fixture
def fake_github() -> Iterator[Service]:
    with fake_github_process(REPOSITORY, TOKEN) as service:
        yield service


def regression(tmp_path: Path) -> tuple[Path, Path]:
    """comparison.json and summary.md of a 4x slower night."""
    baseline, current = tmp_path / "baseline.json", tmp_path / "results.json"
    baseline.write_text(make_results(noisy(40, 50, 1)).model_dump_json(), encoding="utf-8")
    current.write_text(make_results(noisy(160, 50, 2)).model_dump_json(), encoding="utf-8")
    out = tmp_path / "out"
    result = execute(
        [
            "vibevoice-bench",
            "compare",
            "--baseline",
            str(baseline),
            "--current",
            str(current),
            "--out",
            str(out),
        ]
    )
    assert result.returncode == 1, result.stderr
    return out / "comparison.json", out / "summary.md"


def issues(service: Service) -> list[dict[str, object]]:
    headers = {"Authorization": f"Bearer {TOKEN}", "X-GitHub-Api-Version": "2022-11-28"}
    return httpx.get(f"{service.url}/repos/{REPOSITORY}/issues", headers=headers).json()


@pytest.mark.integration
def test_the_report_command_opens_one_issue_per_key_and_updates_it(
    fake_github: Service, tmp_path: Path
) -> None:
    comparison, summary = regression(tmp_path)
    argv = bench.report(
        comparison=str(comparison), summary=str(summary), repository=REPOSITORY,
        key="nightly-tts-http", run_url=RUN_URL, api_url=fake_github.url,
    )  # fmt: skip
    first = execute(argv, env={"GITHUB_TOKEN": TOKEN})
    assert first.returncode == 0, first.stderr
    assert "opened issue" in first.stderr
    second = execute(argv, env={"GITHUB_TOKEN": TOKEN})
    assert second.returncode == 0, second.stderr
    assert "updated issue" in second.stderr
    (issue,) = issues(fake_github)
    assert issue["title"] == "Performance regression (nightly-tts-http)"
    body = str(issue["body"])
    assert body.startswith("<!-- vibevoice-bench:regression:nightly-tts-http -->")
    assert body.rstrip().endswith(f"[Workflow run]({RUN_URL})")
    assert TOKEN not in first.stderr + first.stdout + second.stderr + second.stdout


@pytest.mark.integration
def test_the_report_command_comments_on_a_pull_request(fake_github: Service, tmp_path: Path) -> None:
    httpx.post(f"{fake_github.url}/_seed", json={"title": "the PR", "body": "x", "pull_request": True})
    comparison, summary = regression(tmp_path)
    argv = bench.report(
        comparison=str(comparison), summary=str(summary), repository=REPOSITORY,
        pull_request=1, api_url=fake_github.url,
    )  # fmt: skip
    result = execute(argv, env={"GITHUB_TOKEN": TOKEN})
    assert result.returncode == 0, result.stderr
    assert "added comment" in result.stderr
    log = httpx.get(f"{fake_github.url}/_log").json()
    assert log.count(f"POST /repos/{REPOSITORY}/issues/1/comments") == 1
    assert f"POST /repos/{REPOSITORY}/issues" not in log  # a PR gets a comment, not an issue


@pytest.mark.integration
def test_the_report_command_fails_with_a_wrong_token(fake_github: Service, tmp_path: Path) -> None:
    comparison, summary = regression(tmp_path)
    argv = bench.report(
        comparison=str(comparison), summary=str(summary), repository=REPOSITORY, api_url=fake_github.url
    )
    result = execute(argv, env={"GITHUB_TOKEN": "not-the-token"})
    assert result.returncode == 2
    assert "401 Bad credentials" in result.stderr
    assert "not-the-token" not in result.stderr
