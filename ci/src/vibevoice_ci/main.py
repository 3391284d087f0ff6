"""The VibeVoice pipeline as Dagger functions: lint, test, build, images, services, smoke, publish, ci.

This file only wires containers, caches, secrets and services. What they run, what they are called
and how results read comes from the pure modules beside it (commands, tags, metadata, services,
outcomes), which are tested without an engine.
"""

import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated

import anyio
import dagger
from dagger import DefaultPath, Doc, Ignore, dag, object_type

from vibevoice_ci import audit as audit_commands
from vibevoice_ci import bench as bench_plan
from vibevoice_ci import (
    bench_containers,
    chart_containers,
    cluster,
    commands,
    cosign,
    gpu,
    gpu_containers,
    helm,
    osv,
    provenance,
    services,
    supply_chain,
    toolchain,
    trivy,
)
from vibevoice_ci import images as tool_images
from vibevoice_ci.decorators import check, function
from vibevoice_ci.metadata import (
    DEV_VERSION,
    BuildInfo,
    build_args,
    build_info,
    oci_annotations,
    release_build_info,
)
from vibevoice_ci.outcomes import raise_for_failures, run_steps
from vibevoice_ci.services import AGENT, DEFAULT_PLATFORMS, SERVICES, TEST_TARGET, TTS, ServiceSpec
from vibevoice_ci.tags import image_references

NATIVE_PLATFORM = "linux/amd64"

ServiceArg = Annotated[str, Doc("tts or agent")]
PlatformArg = Annotated[str, Doc("os/arch to build for, e.g. linux/amd64 or linux/arm64")]
PlatformsArg = Annotated[Sequence[str], Doc("platforms to build for")]
# Arguments of the supply-chain functions.
RefsArg = Annotated[Sequence[str], Doc("image references by digest (name[:tag]@sha256:...)")]
RegistryArg = Annotated[str, Doc("registry host, e.g. ghcr.io")]
UsernameArg = Annotated[str, Doc("registry user")]
PasswordArg = Annotated[dagger.Secret, Doc("registry password or token, e.g. env://GITHUB_TOKEN")]
GithubRepositoryArg = Annotated[str, Doc("owner/name on GitHub, as github.repository gives it")]
RefArg = Annotated[str, Doc("git ref, e.g. refs/heads/main or refs/tags/v1.2.3")]
ShaArg = Annotated[str, Doc("the commit id")]
RunIdArg = Annotated[str, Doc("the workflow run id (github.run_id)")]
RunAttemptArg = Annotated[str, Doc("the workflow run attempt (github.run_attempt)")]
WorkflowRefArg = Annotated[str, Doc("the workflow ref (github.workflow_ref)")]
SeverityArg = Annotated[str, Doc("comma-separated Trivy severities that fail the scan gate")]
DbRepositoryArg = Annotated[str, Doc("Trivy DB repository (a mirror); empty: Trivy's default")]
OsvUrlArg = Annotated[str, Doc("OSV API base URL")]
FailOnArg = Annotated[str, Doc("the lowest severity that fails the audit gate: low, medium, high, critical")]
KeyArg = Annotated[dagger.Secret | None, Doc("cosign private key (instead of keyless)")]
KeyPasswordArg = Annotated[dagger.Secret | None, Doc("the cosign key's password")]
IdTokenArg = Annotated[dagger.Secret | None, Doc("an OIDC token for keyless signing (SIGSTORE_ID_TOKEN)")]
OidcRequestTokenArg = Annotated[
    dagger.Secret | None,
    Doc("GitHub's ACTIONS_ID_TOKEN_REQUEST_TOKEN: keyless with a fresh token per signature"),
]
OidcRequestUrlArg = Annotated[dagger.Secret | None, Doc("GitHub's ACTIONS_ID_TOKEN_REQUEST_URL")]


@object_type
class Vibevoice:
    """CI/CD of the VibeVoice voice platform: the same pipeline on a laptop and in GitHub Actions."""

    source: Annotated[
        dagger.Directory,
        DefaultPath("/"),
        Ignore(list(toolchain.SOURCE_IGNORE)),
        Doc("the repository (defaults to the one holding dagger.json)"),
    ]

    # -- lint ------------------------------------------------------------------------------------

    @function
    async def lint_env(self) -> dagger.Container:
        """A Python with the ruff version the dev extra pins, and the source: where lint runs."""
        pyproject = await self.source.file("pyproject.toml").contents()
        python = await self._tool_image("python")
        return self._lint_env(python.reference, commands.dev_requirement(pyproject, "ruff"))

    @function
    @check
    async def lint(self) -> None:
        """ruff check and ruff format --check over src/, tests/ and ci/."""
        env = await self.lint_env()
        await env.with_exec(commands.ruff_check()).with_exec(commands.ruff_format_check()).sync()

    # -- test ------------------------------------------------------------------------------------

    @function
    def test_env(
        self, service: ServiceArg = TTS.name, platform: PlatformArg = NATIVE_PLATFORM
    ) -> dagger.Container:
        """The service's test image (its runtime, the dev extra and the tests) before pytest runs."""
        return self._image(services.service_spec(service), platform, TEST_TARGET, BuildInfo())

    @function
    @check
    def test(
        self, service: ServiceArg = TTS.name, platform: PlatformArg = NATIVE_PLATFORM
    ) -> dagger.Container:
        """pytest (unit and integration) inside the service's test image; JUnit XML in the result."""
        return self.test_env(service, platform).with_exec(commands.pytest())

    @function
    def test_report(
        self, service: ServiceArg = TTS.name, platform: PlatformArg = NATIVE_PLATFORM
    ) -> dagger.File:
        """The JUnit XML report of a test run, whether the tests passed or failed."""
        run = self.test_env(service, platform).with_exec(commands.pytest(), expect=dagger.ReturnType.ANY)
        return run.file(commands.JUNIT_REPORT)

    # -- build -----------------------------------------------------------------------------------

    @function
    def build(
        self,
        *,
        service: ServiceArg,
        platform: PlatformArg = NATIVE_PLATFORM,
        target: Annotated[str, Doc("Dockerfile stage; empty: the shipped one (tts: cpu, agent: agent)")] = "",
        version: Annotated[str, Doc("org.opencontainers.image.version")] = DEV_VERSION,
        revision: Annotated[str, Doc("the commit id")] = "",
        created: Annotated[str, Doc("the commit time, ISO 8601 with offset (git log -1 --format=%cI)")] = "",
        source_url: Annotated[str, Doc("the repository's URL")] = "",
    ) -> dagger.Container:
        """One service's image from its Dockerfile, with OCI labels and annotations."""
        info = build_info(version=version, revision=revision, created=created, source=source_url)
        return self._image(services.service_spec(service), platform, target, info)

    @function
    async def images(self, platforms: PlatformsArg = DEFAULT_PLATFORMS) -> list[dagger.Container]:
        """Every shipped image for every platform, built concurrently."""
        built = [image for variants in self._variants(platforms, BuildInfo()).values() for image in variants]
        async with anyio.create_task_group() as group:
            for image in built:
                group.start_soon(image.sync)
        return built

    # -- services and smoke ----------------------------------------------------------------------

    @function
    def tts_service(self, platform: PlatformArg = NATIVE_PLATFORM) -> dagger.Service:
        """The TTS (espeak-ng on CPU) on port 8000; ready once its image's HEALTHCHECK passes."""
        return self._services(self._shipped(platform, BuildInfo()))[TTS.name]

    @function
    def agent_service(self, platform: PlatformArg = NATIVE_PLATFORM) -> dagger.Service:
        """The agent (scripted LLM) on port 8080, bound to the TTS service under the alias `tts`."""
        return self._services(self._shipped(platform, BuildInfo()))[AGENT.name]

    @function
    @check
    async def smoke(self, platform: PlatformArg = NATIVE_PLATFORM) -> None:
        """vibevoice-smoke against both services bound as `tts` and `agent`; a failure raises."""
        await self._smoke_client(self._shipped(platform, BuildInfo())).sync()

    # -- publish and ci --------------------------------------------------------------------------

    @function(cache="never")
    async def publish(
        self,
        *,
        registry: Annotated[str, Doc("registry host, e.g. ghcr.io")],
        repository: Annotated[str, Doc("repository path, e.g. owner/project (lowercased)")],
        username: Annotated[str, Doc("registry user")],
        password: Annotated[dagger.Secret, Doc("registry password or token, e.g. env://GITHUB_TOKEN")],
        ref: Annotated[str, Doc("git ref, e.g. refs/heads/main or refs/tags/v1.2.3")],
        sha: Annotated[str, Doc("the commit id")],
        created: Annotated[str, Doc("the commit time, ISO 8601 with offset (git log -1 --format=%cI)")] = "",
        source_url: Annotated[str, Doc("the repository's URL, e.g. https://github.com/owner/project")] = "",
        platforms: PlatformsArg = DEFAULT_PLATFORMS,
    ) -> list[str]:
        """Smoke the release images, then push each service as one multi-platform image per tag.

        Returns the published references with their digests. Nothing is pushed if the smoke fails.
        """
        references = {name: image_references(registry, repository, name, ref, sha) for name in SERVICES}
        info = release_build_info(ref=ref, sha=sha, created=created, source=source_url)
        variants = self._variants(platforms, info)
        await self._smoke_variants(variants, platforms)
        return await self._push(references, variants, self._registry(registry, username, password))

    @function
    async def ci(self) -> str:
        """lint, test (each service), images and smoke, concurrently; a summary of what passed."""
        steps = [
            ("lint", self.lint),
            *((f"test {name}", self._test_step(name)) for name in SERVICES),
            ("images", self.images),
            ("smoke", self.smoke),
        ]
        return raise_for_failures(await run_steps(steps))

    # -- supply chain: audit, scan, SBOM, sign, attest, verify, release ---------------------------
    # The logic is in audit, trivy, cosign, provenance and gates; the containers in supply_chain.

    @function
    async def audit_report(
        self, osv_url: OsvUrlArg = osv.DEFAULT_OSV_URL, fail_on: FailOnArg = "low"
    ) -> dagger.Directory:
        """pip-audit of the services' pinned, hashed dependencies and the gate's verdict; never fails."""
        return (await self._audited(osv_url, fail_on)).directory(audit_commands.REPORTS)

    @function
    @check
    async def audit(self) -> None:
        """pip-audit of the services' dependencies: fails on any known vulnerability not allowlisted."""
        await supply_chain.verdict(
            await self._audited(osv.DEFAULT_OSV_URL, "low"), audit_commands.GATE_VERDICT
        )

    @function
    async def scan(
        self,
        image: Annotated[dagger.Container, Doc("the image to scan, before it is pushed anywhere")],
        severity: SeverityArg = "CRITICAL",
        db_repository: DbRepositoryArg = "",
        enforce: Annotated[
            bool, Doc("fail when the gate fails; false: return the reports regardless")
        ] = True,
    ) -> dagger.Directory:
        """Trivy on the image's tarball: JSON, SARIF, table, gate verdict; fails on --severity findings."""
        reports = await self._scan_reports(image, severity, db_repository)
        if enforce:
            await supply_chain.verdict(reports, supply_chain.TRIVY_GATE_VERDICT)
        return reports.directory(trivy.REPORTS)

    @function
    async def sbom(
        self, image: Annotated[dagger.Container, Doc("the image to describe")]
    ) -> dagger.Directory:
        """CycloneDX and SPDX SBOMs of an image (Trivy on its tarball)."""
        return supply_chain.sboms(await self._tool_image("trivy"), image)

    @function
    async def security_report(
        self,
        platforms: PlatformsArg = DEFAULT_PLATFORMS,
        severity: SeverityArg = "CRITICAL",
        db_repository: DbRepositoryArg = "",
    ) -> dagger.Directory:
        """The audit, and every shipped image's scan and SBOMs, with each gate's verdict; never fails."""
        evidence = dag.directory().with_directory("audit", await self.audit_report())
        for (name, platform), image in self._variant_table(platforms, BuildInfo()).items():
            reports = await self._scan_reports(image, severity, db_repository)
            evidence = evidence.with_directory(
                f"{name}/{platform.replace('/', '-')}",
                reports.directory(trivy.REPORTS).with_directory(".", await self.sbom(image)),
            )
        return evidence

    @function
    @check
    async def scan_images(self, platforms: PlatformsArg = DEFAULT_PLATFORMS) -> None:
        """Trivy on every shipped image and platform: fails if any has a CRITICAL finding not allowlisted."""
        await self._scan_gate(self._variant_table(platforms, BuildInfo()), "CRITICAL", "")

    @function(cache="never")
    async def sign(
        self,
        *,
        refs: RefsArg,
        registry: RegistryArg,
        username: UsernameArg,
        password: PasswordArg,
        sha: ShaArg,
        run_id: RunIdArg = "",
        run_attempt: RunAttemptArg = "",
        workflow_ref: WorkflowRefArg = "",
        platforms: PlatformsArg = DEFAULT_PLATFORMS,
        key: KeyArg = None,
        key_password: KeyPasswordArg = None,
        id_token: IdTokenArg = None,
        oidc_request_token: OidcRequestTokenArg = None,
        oidc_request_url: OidcRequestUrlArg = None,
    ) -> str:
        """cosign sign of each image by digest (--recursive), annotated with commit, run and build matrix."""
        signer = supply_chain.Signer(key, key_password, id_token, oidc_request_token, oidc_request_url)
        annotations = self._annotations(sha, run_id, run_attempt, workflow_ref, platforms)
        env = await self._cosign(registry, username, password, signer)
        return await self._sign(env, cosign.unique_by_digest(refs), annotations, keyed=signer.keyed)

    @function(cache="never")
    async def attest(
        self,
        *,
        refs: RefsArg,
        registry: RegistryArg,
        username: UsernameArg,
        password: PasswordArg,
        github_repository: GithubRepositoryArg,
        ref: RefArg,
        sha: ShaArg,
        run_id: RunIdArg = "",
        run_attempt: RunAttemptArg = "",
        workflow_ref: WorkflowRefArg = "",
        platforms: PlatformsArg = DEFAULT_PLATFORMS,
        db_repository: DbRepositoryArg = "",
        key: KeyArg = None,
        key_password: KeyPasswordArg = None,
        id_token: IdTokenArg = None,
        oidc_request_token: OidcRequestTokenArg = None,
        oidc_request_url: OidcRequestUrlArg = None,
    ) -> dagger.Directory:
        """SBOM (cyclonedx), Trivy report (vuln) and SLSA v1 provenance of published images, by digest.

        Each image is pulled by digest for every platform and scanned and described as pulled. Returns
        what was attested.
        """
        started = provenance.now()
        signer = supply_chain.Signer(key, key_password, id_token, oidc_request_token, oidc_request_url)
        env = await self._cosign(registry, username, password, signer)
        wanted = services.platforms(platforms)
        evidence = dag.directory()
        for reference in cosign.unique_by_digest(refs):
            pulled = {p: dag.container(platform=dagger.Platform(p)).from_(reference) for p in wanted}
            folder = provenance.folder_of(reference)
            evidence = evidence.with_directory(
                folder, await self._evidence(folder, pulled, "CRITICAL", db_repository, enforce=False)
            )
        build = await self._build(
            github_repository=github_repository,
            ref=ref,
            sha=sha,
            run_id=run_id,
            run_attempt=run_attempt,
            workflow_ref=workflow_ref,
            platforms=wanted,
            started=started,
        )
        return await self._attest(env, refs, evidence, build, keyed=signer.keyed)

    @function(cache="never")
    async def verify(
        self,
        *,
        refs: RefsArg,
        github_repository: GithubRepositoryArg,
        sha: Annotated[str, Doc("also require this commit's annotation on the signatures")] = "",
        public_key: Annotated[dagger.File | None, Doc("cosign.pub, when signed with a key")] = None,
        registry: RegistryArg = "ghcr.io",
        username: Annotated[str, Doc("registry user, for private images")] = "",
        password: Annotated[dagger.Secret | None, Doc("registry password, for private images")] = None,
    ) -> str:
        """cosign verify and verify-attestation (cyclonedx, vuln, slsaprovenance1) against this repository's
        release workflow and GitHub's OIDC issuer (or a public key); a summary of what was verified."""
        env = await self._cosign(registry, username, password) if password is not None else None
        return await self._verify(env, cosign.unique_by_digest(refs), github_repository, sha, public_key)

    @function(cache="never")
    async def release(
        self,
        *,
        registry: RegistryArg,
        repository: Annotated[str, Doc("repository path, e.g. owner/project (lowercased)")],
        github_repository: GithubRepositoryArg,
        username: UsernameArg,
        password: PasswordArg,
        ref: RefArg,
        sha: ShaArg,
        created: Annotated[str, Doc("the commit time, ISO 8601 with offset (git log -1 --format=%cI)")] = "",
        run_id: RunIdArg = "",
        run_attempt: RunAttemptArg = "",
        workflow_ref: WorkflowRefArg = "",
        platforms: PlatformsArg = DEFAULT_PLATFORMS,
        severity: SeverityArg = "CRITICAL",
        db_repository: DbRepositoryArg = "",
        key: KeyArg = None,
        key_password: KeyPasswordArg = None,
        id_token: IdTokenArg = None,
        oidc_request_token: OidcRequestTokenArg = None,
        oidc_request_url: OidcRequestUrlArg = None,
        public_key: Annotated[dagger.File | None, Doc("cosign.pub, to verify what --key signed")] = None,
    ) -> dagger.Directory:
        """Build every variant, scan (gate), smoke, publish, sign, attest, verify; returns the evidence.

        Nothing is pushed unless every image passed the scan gate and the smoke test.
        """
        started = provenance.now()
        signer = supply_chain.Signer(key, key_password, id_token, oidc_request_token, oidc_request_url)
        signer.check()
        references = {name: image_references(registry, repository, name, ref, sha) for name in SERVICES}
        source_url = f"{provenance.GITHUB}/{github_repository}"
        info = release_build_info(ref=ref, sha=sha, created=created, source=source_url)
        variants = self._variants(platforms, info)
        wanted = services.platforms(platforms)

        # Every image through the scan gate at once (one error naming each image that failed), then
        # the reports and SBOMs of the same, cached, scans as evidence.
        await self._scan_gate(self._variant_table(platforms, info), severity, db_repository)
        evidence = dag.directory()
        for name, images_ in variants.items():
            by_platform = dict(zip(wanted, images_, strict=True))
            evidence = evidence.with_directory(
                name, await self._evidence(name, by_platform, severity, db_repository, enforce=False)
            )
        await self._smoke_variants(variants, platforms)
        published = await self._push(references, variants, self._registry(registry, username, password))
        evidence = evidence.with_new_file("digests.txt", "".join(f"{line}\n" for line in published))

        env = await self._cosign(registry, username, password, signer)
        annotations = self._annotations(sha, run_id, run_attempt, workflow_ref, platforms)
        signed = await self._sign(env, cosign.unique_by_digest(published), annotations, keyed=signer.keyed)
        evidence = evidence.with_new_file("signatures.txt", signed + "\n")
        build = await self._build(
            github_repository=github_repository,
            ref=ref,
            sha=sha,
            run_id=run_id,
            run_attempt=run_attempt,
            workflow_ref=workflow_ref,
            platforms=wanted,
            started=started,
        )
        evidence = await self._attest(env, published, evidence, build, keyed=signer.keyed)
        verified = await self._verify(
            env,
            cosign.unique_by_digest(published),
            github_repository,
            sha,
            public_key if signer.keyed else None,
        )
        return evidence.with_new_file("verification.txt", verified + "\n")

    # -- chart: helm lint, helm template, cluster test ---------------------------------------------
    # The command lines are in helm and cluster; the containers and services in chart_containers.

    @function
    @check
    async def helm_lint(self) -> None:
        """helm lint --strict and helm template of the chart, with its defaults and each ci values file."""
        chart = self._chart()
        entries = await chart.entries(path=helm.CI_VALUES_DIR)
        helm_image = await self._tool_image("helm")
        await chart_containers.linted(helm_image, chart, entries, await self._kube_version()).sync()

    @function
    async def helm_template(
        self,
        values: Annotated[
            dagger.File | None, Doc("a values file (default: the chart's ci/cpu-values.yaml)")
        ] = None,
    ) -> dagger.File:
        """The chart's manifests (its helm test pod included), rendered for the cluster test's Kubernetes."""
        helm_image = await self._tool_image("helm")
        return chart_containers.rendered(helm_image, self._chart(), await self._kube_version(), values)

    @function(cache="never")
    async def cluster_test(self) -> str:
        """The chart installed into k3s (in the engine) from this commit's images; helm test, then smoke."""
        platform = services.platforms([await dag.default_platform()])[0]
        return await chart_containers.cluster_test(
            images=self._shipped(platform, BuildInfo()),
            chart=self._chart(),
            k3s_image=await self._tool_image("k3s"),
            helm_image=await self._tool_image("helm"),
            registry_image=await self._tool_image("registry"),
        )

    def _chart(self) -> dagger.Directory:
        return self.source.directory(helm.CHART_DIR)

    async def _kube_version(self) -> str:
        """The pinned k3s's Kubernetes version: the chart is rendered for the cluster it is tested on."""
        return cluster.kube_version((await self._tool_image("k3s")).tag)

    # -- bench: the nightly benchmark and its report -----------------------------------------------
    # The command lines are in bench (imported as bench_plan); the containers in bench_containers.

    @function(cache="never")
    def bench(
        self,
        *,
        requests: Annotated[
            int, Doc("measured requests per scenario (100 or more, so p95 is judged)")
        ] = bench_plan.DEFAULT_REQUESTS,
        concurrency: Annotated[int, Doc("requests in flight at once")] = bench_plan.DEFAULT_CONCURRENCY,
        warmup: Annotated[int | None, Doc("unrecorded requests first (default: the concurrency)")] = None,
        timeout: Annotated[float, Doc("seconds per request")] = bench_plan.DEFAULT_TIMEOUT_S,
        corpus: Annotated[
            str, Doc("texts: short turns, long paragraphs, or mixed")
        ] = bench_plan.DEFAULT_CORPUS,
        scenarios: Annotated[
            Sequence[str], Doc("what to measure: tts-http, tts-ws (the TTS WebSocket), agent")
        ] = bench_plan.SCENARIO_NAMES,
        baseline: Annotated[
            dagger.Directory | None,
            Doc(
                "the last good run: a previous bench output, or its <scenario>/baseline.json and history.json"
            ),
        ] = None,
        policy: Annotated[
            dagger.File | None, Doc("a regression policy (TOML); default: the built-in one")
        ] = None,
        git_sha: Annotated[str, Doc("the commit under test, recorded in each run")] = "",
        platform: PlatformArg = NATIVE_PLATFORM,
    ) -> dagger.Directory:
        """Benchmark the shipped services and gate each scenario against the last good run.

        Returns <scenario>/ results.json, requests.jsonl, comparison.json, summary.md, chart.svg, and,
        where the gate passed, baseline.json and history.json for the next run. A regression does not
        fail the call: comparison.json says "fail".
        """
        load = bench_plan.Load(
            requests=requests, concurrency=concurrency, warmup=warmup, timeout_s=timeout, corpus=corpus
        )
        images = self._shipped(platform, BuildInfo())
        client = bench_containers.bench_client(
            images[TTS.name],
            self._services(images),
            scenarios=bench_plan.scenarios(scenarios),
            load=load,
            last=baseline,
            policy=policy,
            sha=bench_plan.git_sha(git_sha),
            run_id=datetime.now(UTC).isoformat(),
        )
        return client.directory(bench_plan.OUT_DIR)

    @function(cache="never")
    async def bench_report(
        self,
        *,
        token: Annotated[dagger.Secret, Doc("a GitHub token that may write issues, e.g. env://GITHUB_TOKEN")],
        repository: GithubRepositoryArg,
        comparison: Annotated[dagger.File, Doc("comparison.json of one bench scenario")],
        summary: Annotated[dagger.File, Doc("summary.md of the same scenario")],
        pull_request: Annotated[int | None, Doc("comment on this pull request, pass or fail")] = None,
        run_url: Annotated[str, Doc("the workflow run's URL, linked from the report")] = "",
        key: Annotated[str, Doc("which benchmark: one issue, or one comment, per key")] = (
            bench_plan.DEFAULT_REPORT_KEY
        ),
        api_url: Annotated[str, Doc("GitHub's REST API")] = bench_plan.GITHUB_API,
        platform: PlatformArg = NATIVE_PLATFORM,
    ) -> str:
        """Post a comparison: on a regression, open the key's issue or update the open one; on a pull
        request, add or update its one comment. Returns what was posted."""
        argv = bench_plan.report(
            comparison=bench_plan.REPORT_COMPARISON,
            summary=bench_plan.REPORT_SUMMARY,
            repository=repository,
            key=key,
            pull_request=pull_request,
            run_url=run_url,
            api_url=api_url,
        )
        client = bench_containers.report_client(
            self._shipped(platform, BuildInfo())[TTS.name],
            token=token,
            comparison=comparison,
            summary=summary,
            argv=argv,
            run_id=datetime.now(UTC).isoformat(),
        )
        return await client.stderr()

    # -- wiring (plain methods: not part of the module's API) -------------------------------------

    def _lint_env(self, python_image: str, ruff_requirement: str) -> dagger.Container:
        return (
            dag.container()
            .from_(python_image)
            .with_mounted_cache(toolchain.PIP_CACHE_PATH, dag.cache_volume(toolchain.PIP_CACHE_VOLUME))
            .with_exec(commands.pip_install([ruff_requirement]))
            .with_directory(toolchain.WORKDIR, self.source)
            .with_workdir(toolchain.WORKDIR)
        )

    @staticmethod
    def _registry(registry: str, username: str, password: dagger.Secret) -> dagger.Container:
        """An empty container holding the registry credentials: it publishes the platform variants."""
        return dag.container().with_registry_auth(registry, username, password)

    def _test_step(self, service: str) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            await self.test(service).sync()

        return run

    def _image(self, spec: ServiceSpec, platform: str, target: str, info: BuildInfo) -> dagger.Container:
        """`docker build` of the service's Dockerfile at `target`, labelled and annotated."""
        (checked,) = services.platforms([platform])
        image = self.source.docker_build(
            dockerfile=spec.dockerfile,
            platform=dagger.Platform(checked),
            target=spec.target(target),
            build_args=[dagger.BuildArg(name=key, value=value) for key, value in build_args(info).items()],
        )
        for key, value in oci_annotations(spec.name, info).items():
            image = image.with_label(key, value).with_annotation(key, value)
        return image

    def _shipped(self, platform: str, info: BuildInfo) -> dict[str, dagger.Container]:
        """Each service's shipped image for one platform."""
        return {
            name: self._image(spec, platform, spec.shipped_target, info) for name, spec in SERVICES.items()
        }

    def _variants(self, platforms: Sequence[str], info: BuildInfo) -> dict[str, list[dagger.Container]]:
        """Each service's shipped image for every platform (defined lazily; nothing is built yet)."""
        wanted = services.platforms(platforms)
        return {
            name: [self._image(spec, platform, spec.shipped_target, info) for platform in wanted]
            for name, spec in SERVICES.items()
        }

    @staticmethod
    def _services(images: Mapping[str, dagger.Container]) -> dict[str, dagger.Service]:
        """The images as services, each bound to the services it depends on under their names."""
        started: dict[str, dagger.Service] = {}
        for name, spec in SERVICES.items():  # the table lists dependencies first
            image = images[name]
            for dependency in spec.depends_on:
                image = image.with_service_binding(dependency, started[dependency])
            for key, value in sorted(spec.bound_env.items()):
                image = image.with_env_variable(key, value)
            started[name] = image.with_exposed_port(spec.port).as_service(use_entrypoint=True)
        return started

    def _smoke_client(self, images: Mapping[str, dagger.Container]) -> dagger.Container:
        """The shipped TTS image (it carries vibevoice-smoke) running the smoke against both services."""
        client = images[TTS.name]
        for name, service in self._services(images).items():
            client = client.with_service_binding(name, service)
        return client.with_exec(commands.smoke(TTS.url, AGENT.url))

    # -- supply-chain wiring (plain methods) --------------------------------------------------------

    async def _tool_image(self, tool: str) -> tool_images.ImagePin:
        """A tool image as ci/images/<tool>/Dockerfile pins it."""
        return tool_images.parse_pin(tool, await self.source.file(tool_images.pin_path(tool)).contents())

    async def _gate_env(self) -> dagger.Container:
        pyproject = await self.source.file("pyproject.toml").contents()
        tools = [commands.dev_requirement(pyproject, name) for name in ("pip-audit", "cvss")]
        return supply_chain.gate_env(await self._tool_image("python"), self.source, tools)

    async def _audited(self, osv_url: str, fail_on: str) -> dagger.Container:
        """The audit container after the gate ran on its report (exit code: the gate's)."""
        audited = supply_chain.audited(
            await self._gate_env(), await self._tool_image("uv"), self.source, osv_url=osv_url
        )
        gate = audit_commands.gate_pip_audit(
            fail_on=fail_on, osv_url=osv_url, allowlist=f"{supply_chain.WORK}/{supply_chain.ALLOWLIST}"
        )
        return supply_chain.gated(audited, gate, audit_commands.GATE_VERDICT)

    async def _scan_reports(
        self, image: dagger.Container, severity: str, db_repository: str
    ) -> dagger.Container:
        """The gate container holding a scan's reports and the gate's verdict in /reports."""
        reports = supply_chain.scanned(await self._tool_image("trivy"), image, db_repository=db_repository)
        return supply_chain.trivy_gated(await self._gate_env(), reports, severity)

    async def _scan_gate(
        self, table: Mapping[tuple[str, str], dagger.Container], severity: str, db_repository: str
    ) -> None:
        """Every image through the scan gate at once; one failure listing every image that failed."""

        def step(image: dagger.Container) -> Callable[[], Awaitable[None]]:
            async def run() -> None:
                reports = await self._scan_reports(image, severity, db_repository)
                await supply_chain.verdict(reports, supply_chain.TRIVY_GATE_VERDICT)

            return run

        steps = [(f"scan {name} {platform}", step(image)) for (name, platform), image in table.items()]
        raise_for_failures(await run_steps(steps), title="scan")

    async def _evidence(
        self,
        name: str,
        images_: Mapping[str, dagger.Container],
        severity: str,
        db_repository: str,
        *,
        enforce: bool = True,
    ) -> dagger.Directory:
        """Scan reports and SBOMs of one service's platform images, one folder per platform."""
        if enforce:
            await self._scan_gate({(name, p): image for p, image in images_.items()}, severity, db_repository)
        evidence = dag.directory()
        for platform, image in images_.items():
            reports = await self._scan_reports(image, severity, db_repository)
            evidence = evidence.with_directory(
                platform.replace("/", "-"),
                reports.directory(trivy.REPORTS).with_directory(".", await self.sbom(image)),
            )
        return evidence

    def _variant_table(
        self, platforms: Sequence[str], info: BuildInfo
    ) -> dict[tuple[str, str], dagger.Container]:
        wanted = services.platforms(platforms)
        return {
            (name, platform): image
            for name, variants in self._variants(wanted, info).items()
            for platform, image in zip(wanted, variants, strict=True)
        }

    async def _smoke_variants(
        self, variants: Mapping[str, Sequence[dagger.Container]], platforms: Sequence[str]
    ) -> None:
        """The smoke test on the platform the engine runs natively (nothing is promoted if it fails)."""
        wanted = services.platforms(platforms)
        native = wanted.index(services.runnable_platform(await dag.default_platform(), wanted))
        await self._smoke_client({name: images_[native] for name, images_ in variants.items()}).sync()

    @staticmethod
    async def _push(
        references: Mapping[str, Sequence[str]],
        variants: Mapping[str, Sequence[dagger.Container]],
        publisher: dagger.Container,
    ) -> list[str]:
        """Each service as one multi-platform image under each of its references; returns them by digest."""
        published: list[str] = []
        for name, tagged in references.items():
            for reference in tagged:
                published.append(await publisher.publish(reference, platform_variants=list(variants[name])))
        return published

    async def _cosign(
        self,
        registry: str,
        username: str,
        password: dagger.Secret,
        signer: supply_chain.Signer | None = None,
    ) -> dagger.Container:
        """cosign logged into the registry (a docker config built in memory, mounted as a secret)."""
        config = cosign.docker_config(registry, username, await password.plaintext())
        name = "cosign-docker-config-" + hashlib.sha256(f"{registry}\n{username}".encode()).hexdigest()[:12]
        return supply_chain.cosign_env(await self._tool_image("cosign"), signer, dag.set_secret(name, config))

    @staticmethod
    def _annotations(
        sha: str, run_id: str, run_attempt: str, workflow_ref: str, platforms: Sequence[str]
    ) -> dict[str, str]:
        matrix = {
            "services": list(SERVICES),
            "platforms": services.platforms(platforms),
            "targets": [spec.shipped_target for spec in SERVICES.values()],
        }
        return cosign.signature_annotations(
            sha=sha, run_id=run_id, run_attempt=run_attempt, workflow_ref=workflow_ref, matrix=matrix
        )

    @staticmethod
    async def _sign(
        env: dagger.Container, refs: Sequence[str], annotations: Mapping[str, str], *, keyed: bool
    ) -> str:
        for reference in refs:
            await env.with_exec(cosign.sign(reference, annotations, keyed=keyed)).sync()
        return "\n".join(f"signed {reference} (and its platform manifests)" for reference in refs)

    async def _build(
        self,
        *,
        github_repository: str,
        ref: str,
        sha: str,
        run_id: str,
        run_attempt: str,
        workflow_ref: str,
        platforms: Sequence[str],
        started: str,
    ) -> provenance.Build:
        """What the provenance states: source, matrix, engine, tool and base images, run and times."""
        engine = json.loads(await self.source.file("dagger.json").contents())["engineVersion"]
        tools = [await self._tool_image(tool) for tool in ("python", "uv", "trivy", "cosign")]
        matrix = [
            provenance.MatrixEntry(spec.name, spec.dockerfile, spec.shipped_target, platform)
            for spec in SERVICES.values()
            for platform in platforms
        ]
        bases: dict[str, str] = {}
        for declared in provenance.base_images(
            [await self.source.file(spec.dockerfile).contents() for spec in SERVICES.values()]
        ):
            bases[declared] = await dag.container().from_(declared).image_ref()  # resolved to a digest now
        return provenance.Build(
            github_repository=github_repository,
            ref=ref,
            sha=sha,
            engine_version=str(engine),
            workflow_ref=workflow_ref
            or f"{github_repository}/.github/workflows/{cosign.RELEASE_WORKFLOW}@{ref}",
            run_id=run_id,
            run_attempt=run_attempt,
            started_on=started,
            finished_on=provenance.now(),
            matrix=matrix,
            tool_images=tools,
            base_images=bases,
            version=release_build_info(ref=ref, sha=sha, created="", source="").version,
        )

    @staticmethod
    async def _attest(
        env: dagger.Container,
        published: Sequence[str],
        evidence: dagger.Directory,
        build: provenance.Build,
        *,
        keyed: bool,
    ) -> dagger.Directory:
        """Per service: its provenance statement, and every platform's SBOM and scan, attested by digest."""
        for reference in cosign.unique_by_digest(published):
            folder = provenance.folder_of(reference)
            statement = provenance.statement([reference], build)
            evidence = evidence.with_new_file(
                f"{folder}/provenance.intoto.json", json.dumps(statement, indent=2)
            )
            attesting = env.with_directory("/evidence", evidence.directory(folder)).with_new_file(
                "/evidence/provenance.predicate.json", json.dumps(statement["predicate"])
            )
            for predicate in provenance.attestations(build, root="/evidence"):
                await attesting.with_exec(cosign.attest(reference, predicate, keyed=keyed)).sync()
        return evidence

    async def _verify(
        self,
        env: dagger.Container | None,
        refs: Sequence[str],
        github_repository: str,
        sha: str,
        public_key: dagger.File | None,
    ) -> str:
        """Each image's signatures and attestations verified; what cosign proved, in a few lines each."""
        verifier = env if env is not None else supply_chain.cosign_env(await self._tool_image("cosign"))
        keyed = public_key is not None
        if public_key is not None:
            verifier = verifier.with_file(cosign.PUBLIC_KEY_PATH, public_key)
        required = {cosign.ANNOTATION_PREFIX + "git-sha": sha.strip().lower()} if sha.strip() else None
        lines: list[str] = []
        for reference in refs:
            out = await verifier.with_exec(
                cosign.verify(reference, github_repository, required, keyed=keyed)
            ).stdout()
            lines.append(cosign.summarize_signatures(reference, out))
            for kind in cosign.VERIFIED_PREDICATES:
                out = await verifier.with_exec(
                    cosign.verify_attestation(reference, kind, github_repository, keyed=keyed)
                ).stdout()
                lines.append(cosign.summarize_attestations(reference, kind, out))
        return "\n".join(lines)

    # -- gpu: the TTS cuda image on a GPU engine (a self-hosted GPU runner; never part of `ci`) -----
    # The service's settings and the smoke's command line are in gpu; the containers in gpu_containers.

    @function(cache="never")
    def gpu_smoke(
        self,
        model: Annotated[
            str, Doc("an id fetched at start into a cache volume, or a path in the image")
        ] = gpu.DEFAULT_MODEL,
        wait: Annotated[
            float, Doc("seconds the TTS may take to fetch and load the model")
        ] = gpu.DEFAULT_WAIT_S,
    ) -> dagger.Container:
        """vibevoice-smoke against the TTS cuda image running with all the engine's GPUs.

        Needs an engine with NVIDIA GPU support (a self-hosted GPU runner); not part of `ci`. Run it as
        `dagger call gpu-smoke stdout`: the smoke's report, and a failed call if the smoke fails.
        """
        image = self._image(TTS, gpu.PLATFORM, gpu.TARGET, BuildInfo())
        service = gpu_containers.gpu_service(image, model=model, port=TTS.port)
        return gpu_containers.smoke_client(
            image, service, alias=TTS.name, url=TTS.url, wait_s=wait, run_id=datetime.now(UTC).isoformat()
        )
