"""The VibeVoice pipeline: the table of contents.

The verbs users type are here (ci, lint, test, build, images, smoke, publish, release, bench); each
concern is an object in a package of its own, reached by chaining (`dagger call supply-chain audit`),
its checks found as `dagger check 'supply-chain:*'`. Every concern is handed the same `Toolchain`:
the repository, and the air-gapped redirects parsed once from `--mirror`, `--image` and `--download`.
"""

from collections.abc import Sequence
from functools import partial
from typing import Annotated

import anyio
import dagger
from dagger import DefaultPath, Doc, Ignore, object_type

from vibevoice_ci.benchmark import bench
from vibevoice_ci.benchmark import object as bench_args
from vibevoice_ci.benchmark.object import Benchmark
from vibevoice_ci.chart.object import Chart
from vibevoice_ci.core import commands
from vibevoice_ci.core.decorators import check, function
from vibevoice_ci.core.metadata import DEV_VERSION, BuildInfo, build_info
from vibevoice_ci.core.outcomes import Step, raise_for_failures, run_steps, synced
from vibevoice_ci.core.redirects import Redirects
from vibevoice_ci.core.toolchain import SOURCE_IGNORE, Toolchain
from vibevoice_ci.gpu.object import Gpu
from vibevoice_ci.images import catalog
from vibevoice_ci.images.build import NATIVE, service_image, shipped, variants
from vibevoice_ci.images.catalog import DEFAULT_PLATFORMS, SERVICES, TEST_TARGET, TTS
from vibevoice_ci.images.object import ImageChecks
from vibevoice_ci.pip_cache.object import PipCache
from vibevoice_ci.release import object as release_args
from vibevoice_ci.release.identity import Identity, Signer
from vibevoice_ci.release.object import Release
from vibevoice_ci.services.object import Services
from vibevoice_ci.services.smoke import smoke_client
from vibevoice_ci.suite import devenv
from vibevoice_ci.suite.object import Suite
from vibevoice_ci.supply_chain import osv
from vibevoice_ci.supply_chain.object import DbRepositoryArg, PlatformsArg, SeverityArg, SupplyChain

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
        Ignore(list(SOURCE_IGNORE)),
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

    # -- the concerns ---------------------------------------------------------------------------

    @function
    def services(self, platform: PlatformArg = NATIVE) -> Services:
        """The TTS and the agent as services (`dagger call services tts up --ports 8000:8000`)."""
        return Services(toolchain=self._toolchain(), platform=platform)

    @function
    def supply_chain(self) -> SupplyChain:
        """Dependency audit, image scans and SBOMs, with their gates; never replayed from a cache."""
        return SupplyChain(
            toolchain=self._toolchain(), osv_url=self.osv_url, db_repository=self.trivy_db_repository
        )

    @function
    def chart(self) -> Chart:
        """The Helm chart: lint, template, its tests, the cluster test in k3s."""
        return Chart(toolchain=self._toolchain())

    @function
    def benchmark(self, platform: PlatformArg = NATIVE) -> Benchmark:
        """The benchmark's gate (on an exported run) and its report to GitHub."""
        return Benchmark(toolchain=self._toolchain(), platform=platform)

    @function
    def suite(self, platform: PlatformArg = NATIVE) -> Suite:
        """The rest of `make test`: pyright (both configurations), ci/tests, the model tests."""
        return Suite(toolchain=self._toolchain(), platform=platform)

    @function
    def image_checks(self, platform: PlatformArg = NATIVE) -> ImageChecks:
        """The container checks over the shipped images the engine built."""
        return ImageChecks(toolchain=self._toolchain(), platform=platform)

    @function
    def pip_cache(self) -> PipCache:
        """The pip cache volume, seeded from and copied out to a CI cache (hosted runners start empty)."""
        return PipCache(toolchain=self._toolchain())

    @function
    def gpu(self) -> Gpu:
        """The TTS cuda image on a GPU engine (a self-hosted GPU runner; never part of `ci`)."""
        return Gpu(toolchain=self._toolchain())

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
        http_registry: Annotated[
            bool,
            Doc(
                "the registry speaks plain HTTP (in-house or loopback): cosign may use it; the engine "
                "pushes over HTTP where its engine.json says so"
            ),
        ] = False,
    ) -> Release:
        """The release on one registry, its identity given once: `run` (scan, smoke, publish, sign, attest,
        verify), or one step: `publish`, `sign`, `attest`, `verify`."""
        identity = Identity(
            registry=registry, username=username, password=password, github_repository=github_repository,
            ref=ref, sha=sha, run_id=run_id, run_attempt=run_attempt, workflow_ref=workflow_ref,
        )  # fmt: skip
        signer = Signer(
            key, key_password, id_token, oidc_request_token, oidc_request_url,
            tlog=tlog, http_registry=http_registry,
        )  # fmt: skip
        return Release(
            toolchain=self._toolchain(),
            identity=identity,
            signer=signer,
            platforms=catalog.platforms(platforms),
            severity=severity,
            db_repository=db_repository or self.trivy_db_repository,
            cuda=cuda,
        )

    # -- the verbs ------------------------------------------------------------------------------

    @function
    async def lint_env(self) -> dagger.Container:
        """A Python with the ruff and shellcheck versions the dev extra pins, and the source."""
        return await devenv.lint_env(self._toolchain())

    @function
    @check
    async def lint(self) -> None:
        """ruff check and ruff format --check, and shellcheck on the shell scripts, as `make lint`."""
        await (await devenv.linted(await self.lint_env(), self.source)).sync()

    @function
    async def test_env(
        self, service: ServiceArg = TTS.name, platform: PlatformArg = NATIVE
    ) -> dagger.Container:
        """The service's test image (its runtime, the dev extra and the tests) before pytest runs."""
        return await service_image(
            self._toolchain(), catalog.service_spec(service), platform, TEST_TARGET, BuildInfo()
        )

    @function
    @check
    async def test(self, service: ServiceArg = TTS.name, platform: PlatformArg = NATIVE) -> dagger.Container:
        """pytest (unit and integration) inside the service's test image; JUnit XML in the result."""
        return (await self.test_env(service, platform)).with_exec(commands.pytest())

    @function
    async def test_report(
        self, service: ServiceArg = TTS.name, platform: PlatformArg = NATIVE
    ) -> dagger.File:
        """The JUnit XML report of a test run, whether the tests passed or failed."""
        env = await self.test_env(service, platform)
        return env.with_exec(commands.pytest(), expect=dagger.ReturnType.ANY).file(commands.JUNIT_REPORT)

    @function
    async def build(
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
        return await service_image(self._toolchain(), catalog.service_spec(service), platform, target, info)

    @function
    async def images(
        self, platforms: PlatformsArg = DEFAULT_PLATFORMS, cuda: CudaArg = False
    ) -> list[dagger.Container]:
        """Every shipped image for every platform (and the CUDA one on request), built concurrently."""
        wanted = catalog.release_images(cuda=cuda)
        built = list((await variants(self._toolchain(), platforms, BuildInfo(), wanted)).values())
        async with anyio.create_task_group() as group:
            for each in built:
                group.start_soon(each.sync)
        return built

    @function
    @check
    async def smoke(self, platform: PlatformArg = NATIVE) -> None:
        """vibevoice-smoke against both services bound as `tts` and `agent`; a failure raises."""
        await smoke_client(await shipped(self._toolchain(), platform, BuildInfo())).sync()

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
        source_url: release_args.SourceUrlArg = "",
        platforms: PlatformsArg = DEFAULT_PLATFORMS,
        cuda: CudaArg = False,
    ) -> list[str]:
        """Scan (gate) and smoke the release images, then push each one as one multi-platform image per
        tag: `release ... publish`, the release without the signing.

        Returns the published references with their digests. Nothing is pushed if a scan or the smoke
        fails.
        """
        release = self.release(
            registry=registry, username=username, password=password, ref=ref, sha=sha, platforms=platforms,
            cuda=cuda,
        )  # fmt: skip
        return await release.publish(repository=repository, git=git, created=created, source_url=source_url)

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

    def _toolchain(self) -> Toolchain:
        """The repository, and the redirects parsed once (a malformed flag fails every function at once)."""
        return Toolchain(self.source, Redirects.parse(self.mirror, self.image, self.download))
