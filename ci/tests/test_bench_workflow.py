"""bench.yml: when the benchmark runs, what it keeps, who may write, and its shell steps run for real.

The generic rules (actionlint, zizmor, the workflow schema, pinned actions, the Dagger version, a
read-only token) are test_workflows.py's, which covers every workflow. Here: the triggers and inputs,
the flags each `dagger call` passes exist on the function it calls, every decision (verdict, failure,
the next baseline, which scenarios to report) is the module's and none the workflow's, the last good
run is restored and saved under one path and only from main when the gate passed, write access only
where the report is sent, and the `run:` scripts executed by bash as the runner executes them, with
`dagger` replaced by a recorder.
"""

from __future__ import annotations

import inspect
import json
import os
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
from test_workflows import WORKFLOWS, load
from vibevoice_ci.benchmark.object import Benchmark
from vibevoice_ci.gpu.object import Gpu
from vibevoice_ci.main import Vibevoice

from tests.support.tools import require_tool

WORKFLOW = WORKFLOWS / "bench.yml"
SHA = "0123456789abcdef0123456789abcdef01234567"


def workflow() -> dict[str, Any]:
    return load(WORKFLOW)


def triggers() -> dict[str, Any]:
    """The `on:` mapping (PyYAML reads the bare key `on` as True)."""
    document: dict[Any, Any] = workflow()
    on: dict[str, Any] = document["on"] if "on" in document else document[True]
    return on


def step(job: str, name_starts: str) -> dict[str, Any]:
    (found,) = [s for s in workflow()["jobs"][job]["steps"] if str(s.get("name", "")).startswith(name_starts)]
    return found


def uses(job: str, action: str) -> list[dict[str, Any]]:
    return [s for s in workflow()["jobs"][job]["steps"] if str(s.get("uses", "")).startswith(action + "@")]


def call_flags(script: str, function: str) -> list[str]:
    """The flags given to `dagger call <function>` in a script, up to its chained `export`."""
    words = shlex.split(script.replace("\\\n", " "))
    start = words.index("call") + 1
    if words[start] != function:
        assert words[start : start + 2] == function.split(), words
        start += 1
    end = words.index("export") if "export" in words else len(words)
    return [word for word in words[start:end] if word.startswith("--")]


def parameters(function: Any) -> set[str]:
    return {name.replace("_", "-") for name in inspect.signature(function).parameters if name != "self"}


# -- structure ---------------------------------------------------------------------------------------


def test_it_runs_nightly_and_on_demand_with_the_load_as_inputs() -> None:
    on = triggers()
    assert [entry["cron"] for entry in on["schedule"]] == ["23 3 * * *"]
    inputs = on["workflow_dispatch"]["inputs"]
    assert set(inputs) == {"requests", "concurrency"}
    assert {name: (spec["type"], spec["default"]) for name, spec in inputs.items()} == {
        "requests": ("number", 200),
        "concurrency": ("number", 4),
    }
    assert inputs["requests"]["default"] >= 100  # p95 is judged from 100 requests on
    assert set(on) == {"schedule", "workflow_dispatch"}  # never on pull requests: no token of a fork


def test_only_the_report_job_may_write_and_only_issues() -> None:
    jobs = workflow()["jobs"]
    assert workflow()["permissions"] == {"contents": "read"}
    assert "permissions" not in jobs["bench"]
    assert jobs["report"]["permissions"] == {"contents": "read", "issues": "write"}


def test_the_bench_step_measures_without_gating_so_the_results_are_kept_whatever_they_say() -> None:
    benchmark = step("bench", "Benchmark")
    flags = call_flags(benchmark["run"], "bench")
    assert flags == ["--enforce=false", "--requests", "--concurrency", "--git-sha", "--baseline"]
    assert {f.removeprefix("--").split("=")[0] for f in flags} <= parameters(Vibevoice.bench)
    assert "export --path bench-out" in benchmark["run"]
    assert benchmark["env"]["REQUESTS"] == "${{ inputs.requests || 200 }}"
    assert benchmark["env"]["CONCURRENCY"] == "${{ inputs.concurrency || 4 }}"


def test_the_gate_step_is_the_modules_gate_on_the_results() -> None:
    gate = step("bench", "Gate")
    flags = call_flags(gate["run"], "benchmark gate")
    assert {f.removeprefix("--") for f in flags} <= parameters(Benchmark.gate)
    assert gate["run"].endswith('export --path "$LAST" --wipe')  # exactly the next baseline, nothing stale


def test_the_report_step_calls_the_modules_report_with_flags_it_has_and_the_token_by_reference() -> None:
    report = step("report", "Open or update")
    flags = call_flags(report["run"], "benchmark report")
    assert {f.removeprefix("--") for f in flags} <= parameters(Benchmark.report)
    assert report["env"]["REPORT_TOKEN"] == "${{ secrets.GITHUB_TOKEN }}"  # noqa: S105 - an expression
    assert "--token env://REPORT_TOKEN" in report["run"]
    assert "secrets." not in report["run"]


def test_the_workflow_decides_nothing_itself() -> None:
    # checkout, cache, artifacts and dagger calls: no jq, no copying, no verdict in shell
    for job in workflow()["jobs"].values():
        for entry in job["steps"]:
            script = entry.get("run", "")
            assert "jq" not in script
            assert "cp " not in script
            assert "GITHUB_OUTPUT" not in script
            if script:
                assert {
                    line.split()[0]
                    for line in script.splitlines()
                    if line.strip() and not line.startswith(" ")
                } <= {"mkdir", "dagger"}


def test_the_last_good_run_comes_from_main_and_only_a_passing_main_run_replaces_it() -> None:
    (restore,) = uses("bench", "actions/cache/restore")
    (save,) = uses("bench", "actions/cache/save")
    assert restore["with"]["path"] == save["with"]["path"] == "${{ runner.temp }}/bench-last"
    assert step("bench", "Gate")["env"]["LAST"] == restore["with"]["path"]
    prefix = restore["with"]["restore-keys"]
    assert prefix == "bench-last-main-"
    assert save["with"]["key"].startswith(prefix)
    assert save["with"]["key"] != restore["with"]["key"]  # caches are immutable: each save is new
    assert save["if"] == "github.ref == 'refs/heads/main'"  # and the gate passed: no failure() in it
    order = [s.get("name", s.get("uses")) for s in workflow()["jobs"]["bench"]["steps"]]
    assert order.index(step("bench", "Gate")["name"]) < order.index(save["name"])


def test_the_results_are_uploaded_whatever_the_verdict_and_the_report_reads_them() -> None:
    (upload,) = uses("bench", "actions/upload-artifact")
    assert upload["if"] == "${{ !cancelled() }}"
    assert upload["with"]["path"] == "bench-out"
    order = [s.get("name", s.get("uses")) for s in workflow()["jobs"]["bench"]["steps"]]
    assert order.index(upload["name"]) < order.index(step("bench", "Gate")["name"])
    (download,) = uses("report", "actions/download-artifact")
    assert download["with"]["name"] == upload["with"]["name"]
    assert download["with"]["path"] == "bench-out"


def test_a_regression_fails_the_run_and_is_reported() -> None:
    jobs = workflow()["jobs"]
    assert jobs["report"]["needs"] == "bench"
    assert jobs["report"]["if"] == "${{ !cancelled() && needs.bench.result == 'failure' }}"
    for name, job in jobs.items():
        assert isinstance(job.get("timeout-minutes"), int), name
    assert workflow()["concurrency"]["cancel-in-progress"] is False


# -- the run: scripts, executed ---------------------------------------------------------------------


def run_script(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a step's script the way GitHub's runner runs `run:` with bash."""
    bash = require_tool("bash")
    path = cwd / "step.sh"
    path.write_text(script, encoding="utf-8")
    return subprocess.run(
        [bash, "--noprofile", "--norc", "-eo", "pipefail", str(path)],
        cwd=cwd,
        env={"PATH": os.environ.get("PATH", ""), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def recorder(tmp_path: Path) -> tuple[Path, Path]:
    """A `dagger` that records its argv (one JSON line per call) instead of running anything."""
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls.jsonl"
    bin_dir.mkdir()
    python = require_tool("python3")
    (bin_dir / "dagger").write_text(
        f"#!{python}\nimport json, sys\n"
        f"with open({str(calls)!r}, 'a') as f:\n    f.write(json.dumps(sys.argv[1:]) + '\\n')\n",
        encoding="utf-8",
    )
    (bin_dir / "dagger").chmod(0o755)
    return bin_dir, calls


def recorded(calls: Path) -> list[list[str]]:
    return [json.loads(line) for line in calls.read_text().splitlines()] if calls.exists() else []


def with_path(bin_dir: Path) -> dict[str, str]:
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}


@pytest.mark.parametrize("has_last", [False, True], ids=["first-night", "with-last-run"])
def test_the_bench_script_always_hands_the_module_a_last_run_folder(
    tmp_path: Path, recorder: tuple[Path, Path], has_last: bool
) -> None:
    bin_dir, calls = recorder
    last = tmp_path / "runner-temp" / "bench-last"
    if has_last:
        (last / "tts-http").mkdir(parents=True)
    env = {**with_path(bin_dir), "REQUESTS": "200", "CONCURRENCY": "4", "LAST": str(last), "GITHUB_SHA": SHA}
    result = run_script(step("bench", "Benchmark")["run"], tmp_path, env)
    assert result.returncode == 0, result.stderr
    assert last.is_dir()  # an empty one on the first night: every scenario's run becomes the baseline
    assert recorded(calls) == [
        [
            "--progress", "plain", "call", "bench", "--enforce=false",
            "--requests", "200", "--concurrency", "4", "--git-sha", SHA, "--baseline", str(last),
            "export", "--path", "bench-out",
        ]
    ]  # fmt: skip


def test_the_gate_script_exports_the_modules_next_baseline_over_the_last(
    tmp_path: Path, recorder: tuple[Path, Path]
) -> None:
    bin_dir, calls = recorder
    last = tmp_path / "runner-temp" / "bench-last"
    result = run_script(step("bench", "Gate")["run"], tmp_path, {**with_path(bin_dir), "LAST": str(last)})
    assert result.returncode == 0, result.stderr
    assert recorded(calls) == [
        [
            "--progress", "plain", "call", "benchmark", "gate", "--results", "bench-out",
            "export", "--path", str(last), "--wipe",
        ]
    ]  # fmt: skip


def test_the_job_summary_is_each_scenarios_summary_from_the_module(
    tmp_path: Path, recorder: tuple[Path, Path]
) -> None:
    bin_dir, calls = recorder
    summary = tmp_path / "step-summary.md"
    env = {**with_path(bin_dir), "GITHUB_STEP_SUMMARY": str(summary)}
    result = run_script(step("bench", "Job summary")["run"], tmp_path, env)
    assert result.returncode == 0, result.stderr
    called = ["--progress", "plain", "call", "benchmark", "summary", "--results", "bench-out"]
    assert recorded(calls) == [called]
    assert summary.exists()  # what the module returns lands in the job summary


def test_the_report_script_hands_the_whole_results_to_the_module(
    tmp_path: Path, recorder: tuple[Path, Path]
) -> None:
    bin_dir, calls = recorder
    token = "ghs_never_on_a_command_line"  # noqa: S105 - a stand-in
    run_url = "https://github.com/octo/voice/actions/runs/7"
    env = {**with_path(bin_dir), "REPORT_TOKEN": token, "REPOSITORY": "octo/voice", "RUN_URL": run_url}
    result = run_script(step("report", "Open or update")["run"], tmp_path, env)
    assert result.returncode == 0, result.stderr
    made = recorded(calls)
    assert made == [
        [
            "--progress", "plain", "call", "benchmark", "report", "--token", "env://REPORT_TOKEN",
            "--repository", "octo/voice", "--results", "bench-out", "--run-url", run_url,
        ]
    ]  # fmt: skip
    assert all(token not in word for call in made for word in call)


def test_the_gpu_job_is_opt_in_on_a_gpu_runner_with_a_baseline_of_its_own() -> None:
    job = workflow()["jobs"]["gpu-bench"]
    assert job["if"] == "${{ vars.VIBEVOICE_GPU_BENCH == 'true' }}"  # off unless the repository opts in
    assert "gpu" in job["runs-on"]
    assert "self-hosted" in job["runs-on"]
    assert job["env"]["_EXPERIMENTAL_DAGGER_GPU_SUPPORT"] == "1"
    benchmark = step("gpu-bench", "Benchmark")
    flags = call_flags(benchmark["run"], "gpu bench")
    assert {f.removeprefix("--").split("=")[0] for f in flags} <= parameters(Gpu.bench)
    assert "--enforce=false" in flags
    (restore,) = uses("gpu-bench", "actions/cache/restore")
    (save,) = uses("gpu-bench", "actions/cache/save")
    cpu_prefix = uses("bench", "actions/cache/restore")[0]["with"]["restore-keys"]
    # Neither baseline is ever restored for the other: the GPU's keys do not start with the CPU's prefix.
    assert not restore["with"]["restore-keys"].startswith(cpu_prefix)
    assert not cpu_prefix.startswith(restore["with"]["restore-keys"])
    assert save["with"]["key"].startswith(restore["with"]["restore-keys"])
    assert save["if"] == "github.ref == 'refs/heads/main'"
    gate = step("gpu-bench", "Gate")
    assert gate["env"]["LAST"] == restore["with"]["path"] == save["with"]["path"]
