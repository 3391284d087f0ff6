"""The benchmark concern: measuring the shipped services, the gate on its verdict, and the report.

`dagger call bench` (main.py) measures and gates in one call; `benchmark gate` judges a run already
exported (bench.yml uploads the results first, whatever the verdict), and `benchmark report` posts
the regressions. The command lines are in bench; the containers in containers.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Annotated

import dagger
from dagger import Doc, dag, object_type

from vibevoice_ci.benchmark import bench, containers
from vibevoice_ci.core.decorators import function
from vibevoice_ci.core.metadata import BuildInfo
from vibevoice_ci.core.toolchain import Toolchain, call_time
from vibevoice_ci.images.binding import bound_services
from vibevoice_ci.images.build import NATIVE, shipped
from vibevoice_ci.images.catalog import TTS

# What a run measures (main's `bench`).
RequestsArg = Annotated[int, Doc("measured requests per scenario (100 or more, so p95 is judged)")]
ConcurrencyArg = Annotated[int, Doc("requests in flight at once")]
WarmupArg = Annotated[int | None, Doc("unrecorded requests first (default: the concurrency)")]
TimeoutArg = Annotated[float, Doc("seconds per request")]
CorpusArg = Annotated[str, Doc("texts: short turns, long paragraphs, or mixed")]
ScenariosArg = Annotated[Sequence[str], Doc("what to measure: tts-http, tts-ws (the TTS WebSocket), agent")]
BaselineArg = Annotated[
    dagger.Directory | None,
    Doc("the last good run: a previous bench output, or its <scenario>/baseline.json and history.json"),
]
PolicyArg = Annotated[dagger.File | None, Doc("a regression policy (TOML); default: the built-in one")]
GitShaArg = Annotated[str, Doc("the commit under test, recorded in each run")]


@object_type
class Benchmark:
    """The nightly benchmark's gate and report, decided here so a laptop gets GitHub's verdict."""

    toolchain: Toolchain
    platform: str = NATIVE

    @function
    async def gate(
        self, results: Annotated[dagger.Directory, Doc("a bench output: <scenario>/comparison.json, ...")]
    ) -> dagger.Directory:
        """Fail on any scenario's regression; otherwise the next baseline (<scenario>/baseline.json and
        history.json), which is all a later run needs."""
        verdicts: dict[str, str] = {}
        for entry in await results.entries():
            scenario = entry.rstrip("/")
            if bench.COMPARISON in await results.directory(scenario).entries():
                verdicts[scenario] = bench.verdict(
                    await results.file(f"{scenario}/{bench.COMPARISON}").contents()
                )
        if failed := bench.regressed(verdicts):
            summaries = {s: await results.file(f"{s}/{bench.SUMMARY}").contents() for s in failed}
            raise bench.Regression(bench.regression_report(failed, summaries))
        promoted = dag.directory()
        for scenario in verdicts:
            for name in bench.NEXT_BASELINE:
                promoted = promoted.with_file(f"{scenario}/{name}", results.file(f"{scenario}/{name}"))
        return promoted

    @function
    async def summary(
        self, results: Annotated[dagger.Directory, Doc("a bench output: <scenario>/summary.md, ...")]
    ) -> str:
        """Every scenario's summary.md (its table and its trend charts), for the job summary."""
        parts: list[str] = []
        for entry in sorted(await results.entries()):
            scenario = entry.rstrip("/")
            if bench.SUMMARY in await results.directory(scenario).entries():
                parts.append(await results.file(f"{scenario}/{bench.SUMMARY}").contents())
        return "\n".join(parts)

    @function(cache="never")
    async def report(
        self,
        *,
        token: Annotated[dagger.Secret, Doc("a GitHub token that may write issues, e.g. env://GITHUB_TOKEN")],
        repository: Annotated[str, Doc("owner/name on GitHub, as github.repository gives it")],
        results: Annotated[dagger.Directory, Doc("a bench output: <scenario>/comparison.json, summary.md")],
        pull_request: Annotated[int | None, Doc("comment on this pull request, pass or fail")] = None,
        run_url: Annotated[str, Doc("the workflow run's URL, linked from the report")] = "",
        key: Annotated[str, Doc("which benchmark: one issue, or one comment, per key and scenario")] = (
            bench.DEFAULT_REPORT_KEY
        ),
        api_url: Annotated[str, Doc("GitHub's REST API")] = bench.GITHUB_API,
    ) -> str:
        """Post each scenario's comparison: on a regression, open its issue or update the open one; on a
        pull request, add or update its one comment. Returns what was posted."""
        argv = partial(
            bench.report,
            comparison=bench.REPORT_COMPARISON,
            summary=bench.REPORT_SUMMARY,
            repository=repository,
            pull_request=pull_request,
            run_url=run_url,
            api_url=api_url,
        )
        argv(key=key)  # every argument checked before anything runs
        posted: list[str] = []
        image = (await shipped(self.toolchain, self.platform, BuildInfo()))[TTS.name]
        for entry in await results.entries():
            scenario = entry.rstrip("/")
            if bench.COMPARISON not in await results.directory(scenario).entries():
                continue
            comparison = results.file(f"{scenario}/{bench.COMPARISON}")
            if pull_request is None and bench.verdict(await comparison.contents()) != "fail":
                continue
            client = containers.report_client(
                image,
                token=token,
                comparison=comparison,
                summary=results.file(f"{scenario}/{bench.SUMMARY}"),
                argv=argv(key=bench.report_key(key, scenario)),
                run_id=call_time(),
            )
            posted.append(await client.stderr())
        return "".join(posted)

    async def run(
        self,
        load: bench.Load,
        scenarios: Sequence[bench.Scenario],
        *,
        baseline: dagger.Directory | None,
        policy: dagger.File | None,
        sha: str,
        enforce: bool,
    ) -> dagger.Directory:
        """Main's `bench`: each scenario run, then compared with the last good run, then (if `enforce`)
        gated: a regression fails it."""
        images = await shipped(self.toolchain, self.platform, BuildInfo())
        client = containers.bench_client(
            images[TTS.name],
            bound_services(images),
            scenarios=scenarios,
            load=load,
            last=baseline,
            policy=policy,
            sha=sha,
            run_id=call_time(),
        )
        results = client.directory(bench.OUT_DIR)
        if enforce:
            await self.gate(results)
        return results
