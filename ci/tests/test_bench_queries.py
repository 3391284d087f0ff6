"""What `bench` and `bench-report` ask the engine to do, read from the queries they build.

No engine runs here (see dagger_query.py): these tests check the wiring of the benchmark's client
(the shipped TTS image bound to both services, the last good run and the policy where compare reads
them, one run and one gate per scenario, in order, regressions tolerated, nothing served from the
cache) and of the report's (the token only as a secret variable). The command lines themselves are
vibevoice_ci.bench's, run for real in test_bench_commands.py.
"""

# The tests call the wiring helpers the async functions are built from.
# pyright: reportPrivateUsage=false

from __future__ import annotations

import inspect
from functools import partial

import anyio
import dagger
import pytest
from dagger import dag
from dagger_query import args_of, chain, execs, fields, only
from vibevoice_ci import bench, bench_containers
from vibevoice_ci.main import Vibevoice

SOURCE = dag.directory().with_new_file("marker", "the repository")
SHA = "0123456789abcdef0123456789abcdef01234567"
IMAGE = dag.container().from_("vibevoice-tts:test")


@pytest.fixture
def pipeline() -> Vibevoice:
    return Vibevoice(source=SOURCE)


def measure(pipeline: Vibevoice, **kwargs: object) -> dagger.Directory:
    """What `bench` returns, built without the gate (which reads the verdicts, so needs an engine)."""
    return anyio.run(partial(pipeline.bench, enforce=False, **kwargs))  # type: ignore[arg-type]


def env(container: dagger.Container | dagger.Directory) -> dict[str, str]:
    return {args["name"]: args["value"] for args in args_of(container, "withEnvVariable")}


def test_bench_runs_then_gates_every_scenario_in_the_shipped_tts_image(pipeline: Vibevoice) -> None:
    out = measure(pipeline, git_sha=SHA.upper())
    assert chain(out)[-1].field == "directory"
    assert chain(out)[-1].args == {"path": bench.OUT_DIR}
    build = args_of(out, "dockerBuild")[0]  # the client: the shipped TTS image carries vibevoice-bench
    assert (build["dockerfile"], build["target"]) == ("Dockerfile.tts", "cpu")
    load = bench.Load()
    expected: list[list[str]] = []
    for scenario in bench.scenarios(bench.SCENARIO_NAMES):
        url = bench.SERVICE_URLS[scenario.service]
        expected.append(bench.run(scenario, load, url=url, out_root=bench.OUT_DIR, sha=SHA))
        expected.append(bench.compare(scenario, out_root=bench.OUT_DIR, last_root=bench.LAST_DIR))
    assert execs(out) == expected
    assert [argv[2:4] for argv in expected[::2]] == [
        ["--target", "tts"],
        ["--target", "tts"],
        ["--target", "agent"],
    ]
    gates = args_of(out, "withExec")
    assert ["expect" in args for args in gates] == [False, True] * 3  # a run must work; a gate may say fail
    assert {args.get("expect") for args in gates[1::2]} == {"ANY"}


def test_bench_binds_both_services_under_their_aliases(pipeline: Vibevoice) -> None:
    out = measure(pipeline)
    bindings = {args["alias"]: args["service"] for args in args_of(out, "withServiceBinding")}
    assert list(bindings) == ["tts", "agent"]
    assert only(bindings["tts"], "withExposedPort") == {"port": 8000}
    assert only(bindings["agent"], "withExposedPort") == {"port": 8080}
    assert only(bindings["agent"], "withServiceBinding")["alias"] == "tts"
    assert fields(out).index("withServiceBinding") < fields(out).index("withExec")


def test_bench_passes_the_load_and_the_chosen_scenarios(pipeline: Vibevoice) -> None:
    out = measure(
        pipeline,
        requests=120,
        concurrency=1,
        warmup=0,
        timeout=5.5,
        corpus="short",
        scenarios=["agent", "tts-ws"],
    )
    runs = execs(out)[::2]
    assert [argv[argv.index("--target") + 1 : argv.index("--target") + 4 : 2] for argv in runs] == [
        ["agent", "http"],
        ["tts", "ws"],
    ]
    for argv in runs:
        flags = dict(zip(argv[2::2], argv[3::2], strict=False))
        assert flags["--requests"] == "120"
        assert flags["--concurrency"] == "1"
        assert flags["--warmup"] == "0"
        assert flags["--timeout"] == "5.5"
        assert flags["--corpus"] == "short"
        assert flags["--out"].startswith(bench.OUT_DIR + "/")
    assert "--git-sha" not in runs[0]


def test_without_a_baseline_compare_reads_an_empty_last_run(pipeline: Vibevoice) -> None:
    last = only(measure(pipeline), "withDirectory")
    assert last["path"] == bench.LAST_DIR
    assert chain(last["source"]) == chain(dag.directory())
    assert all("--policy" not in argv for argv in execs(measure(pipeline)))


def test_the_baseline_directory_and_the_policy_are_where_compare_reads_them(pipeline: Vibevoice) -> None:
    baseline = dag.directory().with_new_file("tts-http/baseline.json", "{}")
    policy = dag.directory().with_new_file("policy.toml", "alpha = 0.05").file("policy.toml")
    out = measure(pipeline, baseline=baseline, policy=policy, scenarios=["tts-http"])
    assert only(out, "withDirectory") == {"path": bench.LAST_DIR, "source": baseline}
    assert only(out, "withFile") == {"path": bench.POLICY_FILE, "source": policy}
    compare = execs(out)[1]
    assert compare[compare.index("--baseline") + 1] == f"{bench.LAST_DIR}/tts-http/baseline.json"
    assert compare[compare.index("--history") + 1] == f"{bench.LAST_DIR}/tts-http/history.json"
    assert compare[compare.index("--policy") + 1] == bench.POLICY_FILE
    order = fields(out)
    assert order.index("withDirectory") < order.index("withFile") < order.index("withExec")


def test_every_call_measures_anew(pipeline: Vibevoice) -> None:
    # The function's cache is off ("never"), but the engine also caches each exec by its inputs:
    # a variable that differs per call keeps it from serving last night's numbers.
    first, second = measure(pipeline), measure(pipeline)
    assert bench.RUN_ID_VARIABLE in env(first)
    assert env(first)[bench.RUN_ID_VARIABLE] != env(second)[bench.RUN_ID_VARIABLE]
    assert fields(first).index("withEnvVariable") < fields(first).index("withExec")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"requests": 0}, "requests must be at least 1"),
        ({"concurrency": 0}, "concurrency must be at least 1"),
        ({"warmup": -1}, "warmup must not be negative"),
        ({"timeout": 0.0}, "timeout must be positive"),
        ({"corpus": "poems"}, "unknown corpus 'poems'"),
        ({"scenarios": ["tts-grpc"]}, "unknown scenario 'tts-grpc'"),
        ({"scenarios": []}, "at least one scenario"),
        ({"git_sha": "HEAD"}, "not a git commit id"),
        ({"platform": "arm64"}, "not a platform"),
    ],
)
def test_bench_rejects_bad_input_before_anything_runs(
    pipeline: Vibevoice, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        measure(pipeline, **kwargs)  # type: ignore[arg-type]


def test_the_report_token_is_a_secret_variable_never_an_argument() -> None:
    token = dag.set_secret("github-token", "ghs_not_in_any_argument_list")
    comparison = dag.directory().with_new_file("c.json", "{}").file("c.json")
    summary = dag.directory().with_new_file("s.md", "# s").file("s.md")
    argv = bench.report(
        comparison=bench.REPORT_COMPARISON,
        summary=bench.REPORT_SUMMARY,
        repository="octo/voice",
        key="nightly-tts-http",
        run_url="https://github.com/octo/voice/actions/runs/1",
    )
    client = bench_containers.report_client(
        IMAGE, token=token, comparison=comparison, summary=summary, argv=argv, run_id="now"
    )
    assert only(client, "withSecretVariable") == {"name": "GITHUB_TOKEN", "secret": token}
    assert {args["path"]: args["source"] for args in args_of(client, "withFile")} == {
        bench.REPORT_COMPARISON: comparison,
        bench.REPORT_SUMMARY: summary,
    }
    assert execs(client) == [argv]
    assert "expect" not in only(client, "withExec")  # GitHub refusing the report fails the call
    assert not any("token" in word.lower() or "ghs_" in word for word in argv)
    order = fields(client)
    assert order.index("withSecretVariable") < order.index("withExec")
    assert env(client) == {bench.RUN_ID_VARIABLE: "now"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"repository": "no-slash"}, "OWNER/NAME"),
        ({"key": "Nightly Run"}, "key must be"),
        ({"pull_request": 0}, "start at 1"),
        ({"run_url": "actions/runs/1"}, "http"),
    ],
)
def test_the_report_rejects_bad_input_before_anything_runs(
    pipeline: Vibevoice, kwargs: dict[str, object], message: str
) -> None:
    arguments: dict[str, object] = {
        "token": dag.set_secret("github-token", "x"),
        "repository": "octo/voice",
        "results": dag.directory().with_new_file("tts-http/comparison.json", '{"verdict": "fail"}'),
    }

    async def call() -> str:
        return await pipeline.benchmark().report(**(arguments | kwargs))  # type: ignore[arg-type]

    with pytest.raises(ValueError, match=message):
        anyio.run(call)


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


def test_bench_gates_by_default_and_returns_the_results_only_with_enforce_off() -> None:
    parameters = inspect.signature(Vibevoice.bench).parameters
    assert parameters["enforce"].default is True
