"""The VibeVoice pipeline: the table of contents.

The verbs users type are here (ci, lint, test, build, images, smoke, publish, release, bench); each
concern is an object in its own file, reached by chaining (`dagger call supply-chain audit`), its
checks found as `dagger check 'supply-chain:*'`. Images, services and tool pins come from artifacts;
what the containers run comes from the pure modules beside it (commands, tags, metadata, bench, ...).
"""

from collections.abc import Sequence
from functools import partial
from typing import Annotated

import anyio
import dagger
from dagger import DefaultPath, Doc, Ignore, object_type

from vibevoice_ci import artifacts, bench, commands, devenv, osv, services, toolchain
from vibevoice_ci import benchmark as bench_args
from vibevoice_ci import release as release_args
from vibevoice_ci.artifacts import NATIVE
from vibevoice_ci.benchmark import Benchmark
from vibevoice_ci.caches import PipCache
from vibevoice_ci.chart import Chart
from vibevoice_ci.decorators import check, function
from vibevoice_ci.gpu_smoke import Gpu
from vibevoice_ci.image_checks import ImageChecks
from vibevoice_ci.metadata import DEV_VERSION, BuildInfo, build_info, release_build_info
from vibevoice_ci.mirrors import Redirects
from vibevoice_ci.outcomes import Step, raise_for_failures, run_steps, synced
from vibevoice_ci.release import Release
from vibevoice_ci.security import DbRepositoryArg, PlatformsArg, SeverityArg, SupplyChain
from vibevoice_ci.services import DEFAULT_PLATFORMS, SERVICES, TEST_TARGET, TTS
from vibevoice_ci.stack import Services
from vibevoice_ci.suite import Suite

ServiceArg = Annotated[str, Doc("tts or agent")]
CudaArg = Annotated[
    bool, Doc("also the TTS CUDA image (linux/amd64, tags suffixed -cuda; a release tag always has it)")
]
PlatformArg = Annotated[str, Doc("os/arch, e.g. linux/arm64; empty: the engine's own (native)")]


@object_type
class Vibevoice:
    """CI/CD of the VibeVoice voice platform: the same pipeline on a laptop and in GitHub Actions."""

    source: Annotated[
        dagger.Directory,
        DefaultPath("/"),
        Ignore(list(toolchain.SOURCE_IGNORE)),
        Doc("the repository (defaults to the one holding dagger.json)"),
    ]
    mirror: Annotated[
        Sequence[str],
        Doc("air-gapped mode: pull HOST's images from PREFIX, digests kept (e.g. docker.io=reg.corp:5000)"),
    ] = ()
    image: Annotated[
        Sequence[str],
        Doc(
            "air-gapped mode: replace one image whole, e.g. python=reg:5000/python:3.12-slim (a tool or base)"
        ),
    ] = ()
    download: Annotated[
        Sequence[str],
        Doc("air-gapped mode: fetch a download from a mirror, e.g. torch-index=https://pypi.corp/simple"),
    ] = ()
    osv_url: Annotated[str, Doc("the OSV API the dependency audit asks (a mirror behind a firewall)")] = (
        osv.DEFAULT_OSV_URL
    )
    trivy_db_repository: Annotated[str, Doc("Trivy's database repository (a mirror); empty: Trivy's")] = ""

    @function
    def services(self, platform: PlatformArg = NATIVE) -> Services:
        """The TTS and the agent as services (`dagger call services tts up --ports 8000:8000`)."""
        return Services(source=self.source, redirects=self._redirects(), platform=platform)

    @function
    def supply_chain(self) -> SupplyChain:
        """Dependency audit, image scans and SBOMs, with their gates; never replayed from a cache."""
        return SupplyChain(
            source=self.source,
            redirects=self._redirects(),
            osv_url=self.osv_url,
            db_repository=self.trivy_db_repository,
        )

    @function
    def chart(self) -> Chart:
        """The Helm chart: lint, template, its tests, the cluster test in k3s."""
        return Chart(source=self.source, redirects=self._redirects())

    @function
    def benchmark(self, platform: PlatformArg = NATIVE) -> Benchmark:
        """The benchmark's gate (on an exported run) and its report to GitHub."""
        return Benchmark(source=self.source, redirects=self._redirects(), platform=platform)

    @function
    def suite(self, platform: PlatformArg = NATIVE) -> Suite:
        """The rest of `make test`: pyright (both configurations), ci/tests, the model tests."""
        return Suite(source=self.source, redirects=self._redirects(), platform=platform)

    @function
    def image_checks(self, platform: PlatformArg = NATIVE) -> ImageChecks:
        """The container checks over the shipped images the engine built."""
        return ImageChecks(source=self.source, redirects=self._redirects(), platform=platform)

    @function
    def pip_cache(self) -> PipCache:
        """The pip cache volume, seeded from and copied out to a CI cache (hosted runners start empty)."""
        return PipCache(source=self.source, redirects=self._redirects())

    @function
    def gpu(self) -> Gpu:
        """The TTS cuda image on a GPU engine (a self-hosted GPU runner; never part of `ci`)."""
        return Gpu(source=self.source, redirects=self._redirects())

    @function
    async def lint_env(self) -> dagger.Container:
        """A Python with the ruff and shellcheck versions the dev extra pins, and the source."""
        return await devenv.for_linting(self.source, self._redirects())

    @function
    @check
    async def lint(self) -> None:
        """ruff check and ruff format --check, and shellcheck on the shell scripts, as `make lint`."""
        await (await devenv.linted(await self.lint_env(), self.source)).sync()

    @function
    def test_env(self, service: ServiceArg = TTS.name, platform: PlatformArg = NATIVE) -> dagger.Container:
        """The service's test image (its runtime, the dev extra and the tests) before pytest runs."""
        spec, redirects = services.service_spec(service), self._redirects()
        return artifacts.image(self.source, spec, platform, TEST_TARGET, BuildInfo(), redirects=redirects)

    @function
    @check
    def test(self, service: ServiceArg = TTS.name, platform: PlatformArg = NATIVE) -> dagger.Container:
        """pytest (unit and integration) inside the service's test image; JUnit XML in the result."""
        return self.test_env(service, platform).with_exec(commands.pytest())

    @function
    def test_report(self, service: ServiceArg = TTS.name, platform: PlatformArg = NATIVE) -> dagger.File:
        """The JUnit XML report of a test run, whether the tests passed or failed."""
        run = self.test_env(service, platform).with_exec(commands.pytest(), expect=dagger.ReturnType.ANY)
        return run.file(commands.JUNIT_REPORT)

    @function
    def build(
        self,
        *,
        service: ServiceArg,
        platform: PlatformArg = NATIVE,
        target: Annotated[str, Doc("Dockerfile stage; empty: the shipped one (tts: cpu, agent: agent)")] = "",
        version: Annotated[str, Doc("org.opencontainers.image.version")] = DEV_VERSION,
        revision: Annotated[str, Doc("the commit id")] = "",
        created: Annotated[str, Doc("the commit time, ISO 8601 with offset (git log -1 --format=%cI)")] = "",
        source_url: Annotated[str, Doc("the repository's URL")] = "",
    ) -> dagger.Container:
        """One service's image from its Dockerfile, with OCI labels and annotations."""
        info = build_info(version=version, revision=revision, created=created, source=source_url)
        spec = services.service_spec(service)
        return artifacts.image(self.source, spec, platform, target, info, redirects=self._redirects())

    @function
    async def images(
        self, platforms: PlatformsArg = DEFAULT_PLATFORMS, cuda: CudaArg = False
    ) -> list[dagger.Container]:
        """Every shipped image for every platform (and the CUDA one on request), built concurrently."""
        wanted = services.release_images(cuda=cuda)
        built = list(
            artifacts.variants(self.source, platforms, BuildInfo(), wanted, self._redirects()).values()
        )
        async with anyio.create_task_group() as group:
            for image in built:
                group.start_soon(image.sync)
        return built

    @function
    @check
    async def smoke(self, platform: PlatformArg = NATIVE) -> None:
        """vibevoice-smoke against both services bound as `tts` and `agent`; a failure raises."""
        shipped = artifacts.shipped(self.source, platform, BuildInfo(), self._redirects())
        await artifacts.smoke_client(shipped).sync()

    @function(cache="never")
    async def publish(
        self,
        *,
        registry: release_args.RegistryArg,
        repository: release_args.RepositoryArg,
        username: release_args.UsernameArg,
        password: Annotated[dagger.Secret, Doc("registry password or token, e.g. env://GITHUB_TOKEN")],
        ref: release_args.RefArg,
        sha: release_args.ShaArg,
        git: release_args.GitArg,
        created: release_args.CreatedArg = "",
        source_url: Annotated[str, Doc("the repository's URL, e.g. https://github.com/owner/project")] = "",
        platforms: PlatformsArg = DEFAULT_PLATFORMS,
        cuda: CudaArg = False,
    ) -> list[str]:
        """Smoke the release images, then push each one as one multi-platform image per tag.

        Returns the published references with their digests. Nothing is pushed if the smoke fails.
        """
        wanted = services.release_images(cuda=cuda)
        references = services.release_references(wanted, registry, repository, ref, sha)
        created = created or await artifacts.commit_time(self.source, git, self._redirects())
        info = release_build_info(ref=ref, sha=sha, created=created, source=source_url)
        table = artifacts.variants(self.source, platforms, info, wanted, self._redirects())
        await artifacts.smoke_native(table)
        return await artifacts.push(references, table, artifacts.registry_auth(registry, username, password))

    @function
    def release(
        self,
        *,
        registry: release_args.RegistryArg = "ghcr.io",
        github_repository: release_args.GithubRepositoryArg = "",
        username: release_args.UsernameArg = "",
        password: release_args.PasswordArg = None,
        ref: release_args.RefArg = "",
        sha: release_args.ShaArg = "",
        run_id: release_args.RunIdArg = "",
        run_attempt: release_args.RunAttemptArg = "",
        workflow_ref: release_args.WorkflowRefArg = "",
        platforms: PlatformsArg = DEFAULT_PLATFORMS,
        severity: SeverityArg = "CRITICAL",
        db_repository: DbRepositoryArg = "",
        key: release_args.KeyArg = None,
        key_password: release_args.KeyPasswordArg = None,
        id_token: release_args.IdTokenArg = None,
        oidc_request_token: release_args.OidcRequestTokenArg = None,
        oidc_request_url: release_args.OidcRequestUrlArg = None,
        cuda: CudaArg = False,
        tlog: Annotated[
            bool, Doc("Sigstore's transparency log; false: sign with --key and verify with no network")
        ] = True,
    ) -> Release:
        """The release on one registry, its identity given once: `run` (scan, smoke, publish, sign, attest,
        verify), or one step: `sign`, `attest`, `verify`."""
        return Release(
            source=self.source, registry=registry, username=username, password=password,
            github_repository=github_repository, ref=ref, sha=sha, run_id=run_id, run_attempt=run_attempt,
            workflow_ref=workflow_ref, platforms=services.platforms(platforms), severity=severity,
            db_repository=db_repository, key=key, key_password=key_password, id_token=id_token,
            oidc_request_token=oidc_request_token, oidc_request_url=oidc_request_url, cuda=cuda,
            redirects=self._redirects(), tlog=tlog,
        )  # fmt: skip

    @function(cache="never")
    async def bench(
        self,
        *,
        requests: bench_args.RequestsArg = bench.DEFAULT_REQUESTS,
        concurrency: bench_args.ConcurrencyArg = bench.DEFAULT_CONCURRENCY,
        warmup: bench_args.WarmupArg = None,
        timeout: bench_args.TimeoutArg = bench.DEFAULT_TIMEOUT_S,  # noqa: ASYNC109 - a request's, not ours
        corpus: bench_args.CorpusArg = bench.DEFAULT_CORPUS,
        scenarios: bench_args.ScenariosArg = bench.SCENARIO_NAMES,
        baseline: bench_args.BaselineArg = None,
        policy: bench_args.PolicyArg = None,
        git_sha: bench_args.GitShaArg = "",
        platform: PlatformArg = NATIVE,
        enforce: Annotated[bool, Doc("fail on a regression; false: return the results regardless")] = True,
    ) -> dagger.Directory:
        """Benchmark the shipped services and gate each scenario against the last good run.

        Returns <scenario>/ results.json, requests.jsonl, comparison.json, summary.md, chart.svg,
        trend.svg, the next baseline.json and history.json. Fails on a regression (unless
        --enforce=false), so nothing becomes the next baseline.
        """
        load = bench.Load(
            requests=requests, concurrency=concurrency, warmup=warmup, timeout_s=timeout, corpus=corpus
        )
        chosen = bench.scenarios(scenarios)
        return await self.benchmark(platform).run(
            load, chosen, baseline=baseline, policy=policy, sha=bench.git_sha(git_sha), enforce=enforce
        )

    @function
    async def ci(self) -> str:
        """Everything `make test` checks, concurrently, then a summary of what passed.

        lint, the tests in each service's image, every image, the smoke, pyright, ci/tests, the model
        tests, the chart's lint and tests, and the container checks over the images the engine built.
        """
        steps: list[Step] = [
            ("lint", self.lint),
            *((f"test {name}", synced(partial(self.test, name))) for name in SERVICES),
            ("images", self.images),
            ("smoke", self.smoke),
            *self.suite().steps(),
            *self.chart().steps(),
            *self.image_checks().steps(),
        ]
        return raise_for_failures(await run_steps(steps))

    def _redirects(self) -> list[str]:
        """--mirror, --image and --download, checked, as the pairs every concern takes (mirrors.py)."""
        return Redirects.parse(self.mirror, self.image, self.download).encode()
