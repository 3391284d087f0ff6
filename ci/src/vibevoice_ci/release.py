"""The release concern: publish, sign, attest and verify, with the identity declared once.

`dagger call release <registry, credentials, run, signer> run --repository ...` is the whole release;
`sign`, `attest` and `verify` are its steps on their own. The registry, the credentials, the run's
identity and the signer are the object's fields, given once to main's `release`. The logic is in
cosign and provenance; the containers in supply_chain, scanning and artifacts.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Annotated

import dagger
from dagger import DefaultPath, Doc, dag, object_type

from vibevoice_ci import artifacts, cosign, provenance, scanning, services, supply_chain
from vibevoice_ci.decorators import function
from vibevoice_ci.metadata import release_build_info
from vibevoice_ci.services import ReleaseImage
from vibevoice_ci.suite import Suite
from vibevoice_ci.tags import release_version

RefsArg = Annotated[Sequence[str], Doc("image references by digest (name[:tag]@sha256:...)")]
PublicKeyArg = Annotated[dagger.File | None, Doc("cosign.pub, when signed with a key")]
GitArg = Annotated[
    dagger.GitRef, DefaultPath("/"), Doc("the commit released: its time is the images' created")
]
RepositoryArg = Annotated[str, Doc("repository path, e.g. owner/project (lowercased)")]
CreatedArg = Annotated[str, Doc("the commit time (ISO 8601 with offset); default: read from git")]
# The release's identity (main.release's arguments; publish shares the registry's and the commit's).
RegistryArg = Annotated[str, Doc("registry host, e.g. ghcr.io")]
UsernameArg = Annotated[str, Doc("registry user")]
PasswordArg = Annotated[dagger.Secret | None, Doc("registry password or token, e.g. env://GITHUB_TOKEN")]
GithubRepositoryArg = Annotated[str, Doc("owner/name on GitHub, as github.repository gives it")]
RefArg = Annotated[str, Doc("git ref, e.g. refs/heads/main or refs/tags/v1.2.3")]
ShaArg = Annotated[str, Doc("the commit id (verify: also require its annotation)")]
RunIdArg = Annotated[str, Doc("the workflow run id (github.run_id)")]
RunAttemptArg = Annotated[str, Doc("the workflow run attempt (github.run_attempt)")]
WorkflowRefArg = Annotated[str, Doc("the workflow ref (github.workflow_ref)")]
KeyArg = Annotated[dagger.Secret | None, Doc("cosign private key (instead of keyless)")]
KeyPasswordArg = Annotated[dagger.Secret | None, Doc("the cosign key's password")]
IdTokenArg = Annotated[dagger.Secret | None, Doc("an OIDC token for keyless signing (SIGSTORE_ID_TOKEN)")]
OidcRequestTokenArg = Annotated[
    dagger.Secret | None, Doc("GitHub's ACTIONS_ID_TOKEN_REQUEST_TOKEN: keyless, a fresh token per signature")
]
OidcRequestUrlArg = Annotated[dagger.Secret | None, Doc("GitHub's ACTIONS_ID_TOKEN_REQUEST_URL")]


class MissingCredentials(ValueError):
    """A step that writes to the registry was called without a password."""


@object_type
class Release:
    """Publishing, signing, attesting and verifying this repository's images on one registry."""

    source: dagger.Directory
    registry: str
    username: str = ""
    password: dagger.Secret | None = None
    github_repository: str = ""
    ref: str = ""
    sha: str = ""
    run_id: str = ""
    run_attempt: str = ""
    workflow_ref: str = ""
    platforms: list[str]
    severity: str = "CRITICAL"
    db_repository: str = ""
    key: dagger.Secret | None = None
    key_password: dagger.Secret | None = None
    id_token: dagger.Secret | None = None
    oidc_request_token: dagger.Secret | None = None
    oidc_request_url: dagger.Secret | None = None
    cuda: bool = False
    tlog: bool = True  # false: key-based signing with no Sigstore service (air-gapped)
    redirects: Sequence[str] = ()  # air-gapped mode: main's --mirror and --image pairs (mirrors.py)

    @function(cache="never")
    async def run(
        self,
        *,
        repository: RepositoryArg,
        git: GitArg,
        created: CreatedArg = "",
        public_key: Annotated[dagger.File | None, Doc("cosign.pub, to verify what --key signed")] = None,
    ) -> dagger.Directory:
        """Build every variant, scan (gate), smoke, publish, sign, attest, verify; returns the evidence.

        Nothing is pushed unless every image passed the scan gate and the smoke test. A release tag (or
        --cuda) adds the CUDA image, tagged `<tag>-cuda`; it is scanned, signed and attested like the
        others, but not smoke-tested: that needs a GPU (`dagger call gpu smoke` on a GPU runner).
        """
        started = provenance.now()
        signer = self._signer()
        signer.check()
        password = self._password()
        images = self._images()
        references = services.release_references(images, self.registry, repository, self.ref, self.sha)
        info = release_build_info(
            ref=self.ref,
            sha=self.sha,
            created=created or await artifacts.commit_time(self.source, git, self.redirects),
            source=f"{provenance.GITHUB}/{self.github_repository}",
        )
        table = artifacts.variants(self.source, self.platforms, info, images, self.redirects)
        scanner = await scanning.scanner(
            self.source, severity=self.severity, db_repository=self.db_repository
        )

        # Every image through the scan gate at once (one error naming each image that failed), then
        # the reports and SBOMs of the same scans (one exec each: one cache buster per call) as evidence.
        await scanner.gate(table)
        evidence = dag.directory()
        for (name, platform), image in table.items():
            evidence = evidence.with_directory(name, scanner.evidence({platform: image}))
        await artifacts.smoke_native(table)  # the shipped images; the CUDA one needs a GPU, so instead:
        if services.CUDA_IMAGE in images:
            await Suite(source=self.source, redirects=self.redirects).cuda_model_tests().sync()
        published = await artifacts.push(
            references, table, artifacts.registry_auth(self.registry, self.username, password)
        )
        evidence = evidence.with_new_file("digests.txt", "".join(f"{line}\n" for line in published))

        env = await self._cosign(signer)
        signed = await self._sign(env, cosign.unique_by_digest(published), keyed=signer.keyed)
        evidence = evidence.with_new_file("signatures.txt", signed + "\n")
        build = await self._build(started)
        evidence = await self._attest(env, published, evidence, build, keyed=signer.keyed)
        verified = await self._verify(
            env, cosign.unique_by_digest(published), public_key if signer.keyed else None
        )
        return evidence.with_new_file("verification.txt", verified + "\n")

    @function(cache="never")
    async def sign(self, refs: RefsArg) -> str:
        """cosign sign of each image by digest (--recursive), annotated with commit, run and build matrix."""
        signer = self._signer()
        return await self._sign(await self._cosign(signer), cosign.unique_by_digest(refs), keyed=signer.keyed)

    @function(cache="never")
    async def attest(self, refs: RefsArg) -> dagger.Directory:
        """SBOM (cyclonedx), Trivy report (vuln) and SLSA v1 provenance of published images, by digest.

        Each image is pulled by digest for every platform and scanned and described as pulled. Returns
        what was attested.
        """
        started = provenance.now()
        signer = self._signer()
        env = await self._cosign(signer)
        scanner = await scanning.scanner(
            self.source, redirects=self.redirects, db_repository=self.db_repository
        )
        evidence = dag.directory()
        for reference in cosign.first_by_digest(refs):
            folder = provenance.folder_of(reference)
            pulled = {
                p: dag.container(platform=dagger.Platform(p)).from_(cosign.by_digest(reference))
                for p in self._image(folder).platforms(self.platforms)
            }
            evidence = evidence.with_directory(folder, scanner.evidence(pulled))
        return await self._attest(env, refs, evidence, await self._build(started), keyed=signer.keyed)

    @function(cache="never")
    async def verify(self, refs: RefsArg, public_key: PublicKeyArg = None) -> str:
        """cosign verify and verify-attestation (cyclonedx, vuln, slsaprovenance1) against this repository's
        release workflow and GitHub's OIDC issuer (or a public key); a summary of what was verified."""
        env = await self._cosign(None) if self.password is not None else None
        return await self._verify(env, cosign.unique_by_digest(refs), public_key)

    # -- wiring (plain methods: not part of the module's API) -------------------------------------

    def _images(self) -> tuple[ReleaseImage, ...]:
        """The shipped images, and the CUDA one on a release tag or when asked for."""
        return services.release_images(cuda=self.cuda or release_version(self.ref) is not None)

    def _image(self, key: str) -> ReleaseImage:
        return next(image for image in (*services.SHIPPED_IMAGES, services.CUDA_IMAGE) if image.key == key)

    def _matrix(self) -> list[provenance.MatrixEntry]:
        """Every variant this release builds: service, Dockerfile, target, platform."""
        return [
            provenance.MatrixEntry(image.service.name, image.service.dockerfile, image.target, platform)
            for image in self._images()
            for platform in image.platforms(self.platforms)
        ]

    def _signer(self) -> supply_chain.Signer:
        return supply_chain.Signer(
            self.key, self.key_password, self.id_token, self.oidc_request_token, self.oidc_request_url
        )

    def _password(self) -> dagger.Secret:
        if self.password is None:
            msg = "publishing needs the registry password: release --password env://NAME"
            raise MissingCredentials(msg)
        return self.password

    async def _cosign(self, signer: supply_chain.Signer | None) -> dagger.Container:
        """cosign logged into the registry (a docker config built in memory, mounted as a secret)."""
        config = cosign.docker_config(self.registry, self.username, await self._password().plaintext())
        digest = hashlib.sha256(f"{self.registry}\n{self.username}".encode()).hexdigest()[:12]
        cosign_image = await artifacts.tool_image(self.source, "cosign", self.redirects)
        return supply_chain.cosign_env(
            cosign_image, signer, dag.set_secret(f"cosign-docker-config-{digest}", config), tlog=self.tlog
        )

    def _annotations(self) -> dict[str, str]:
        return cosign.signature_annotations(
            sha=self.sha,
            run_id=self.run_id,
            run_attempt=self.run_attempt,
            workflow_ref=self.workflow_ref,
            matrix=[(entry.service, entry.target, entry.platform) for entry in self._matrix()],
        )

    async def _sign(self, env: dagger.Container, refs: Sequence[str], *, keyed: bool) -> str:
        for reference in refs:
            await env.with_exec(cosign.sign(reference, self._annotations(), keyed=keyed)).sync()
        return "\n".join(f"signed {reference} (and its platform manifests)" for reference in refs)

    async def _build(self, started: str) -> provenance.Build:
        """What the provenance states: source, matrix, engine, tool and base images, run and times."""
        engine = json.loads(await self.source.file("dagger.json").contents())["engineVersion"]
        tools = [
            await artifacts.tool_image(self.source, tool, self.redirects)
            for tool in ("python", "uv", "trivy", "cosign")
        ]
        matrix = self._matrix()
        dockerfiles = dict.fromkeys(entry.dockerfile for entry in matrix)
        arguments = provenance.BASE_IMAGE_ARGS + (
            (provenance.CUDA_IMAGE_ARG,) if any(entry.target == "cuda" for entry in matrix) else ()
        )
        bases: dict[str, str] = {}
        for declared in provenance.base_images(
            [await self.source.file(dockerfile).contents() for dockerfile in dockerfiles], arguments
        ):
            bases[declared] = await dag.container().from_(declared).image_ref()  # resolved to a digest now
        return provenance.Build(
            github_repository=self.github_repository,
            ref=self.ref,
            sha=self.sha,
            engine_version=str(engine),
            workflow_ref=self.workflow_ref
            or f"{self.github_repository}/.github/workflows/{cosign.RELEASE_WORKFLOW}@{self.ref}",
            run_id=self.run_id,
            run_attempt=self.run_attempt,
            started_on=started,
            finished_on=provenance.now(),
            matrix=matrix,
            tool_images=tools,
            base_images=bases,
            version=release_build_info(ref=self.ref, sha=self.sha, created="", source="").version,
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
        for reference in cosign.first_by_digest(published):
            folder = provenance.folder_of(reference)
            statement = provenance.statement([reference], build)
            evidence = evidence.with_new_file(
                f"{folder}/provenance.intoto.json", json.dumps(statement, indent=2)
            )
            attesting = env.with_directory("/evidence", evidence.directory(folder)).with_new_file(
                "/evidence/provenance.predicate.json", json.dumps(statement["predicate"])
            )
            for predicate in provenance.attestations(build, root="/evidence", folder=folder):
                await attesting.with_exec(cosign.attest(reference, predicate, keyed=keyed)).sync()
        return evidence

    async def _verify(
        self, env: dagger.Container | None, refs: Sequence[str], public_key: dagger.File | None
    ) -> str:
        """Each image's signatures and attestations verified; what cosign proved, in a few lines each."""
        verifier = env or supply_chain.cosign_env(
            await artifacts.tool_image(self.source, "cosign", self.redirects), tlog=self.tlog
        )
        keyed = public_key is not None
        if public_key is not None:
            verifier = verifier.with_file(cosign.PUBLIC_KEY_PATH, public_key)
        sha = self.sha.strip().lower()
        required = {cosign.ANNOTATION_PREFIX + "git-sha": sha} if sha else None
        lines: list[str] = []
        for reference in refs:
            out = await verifier.with_exec(
                cosign.verify(reference, self.github_repository, required, keyed=keyed)
            ).stdout()
            lines.append(cosign.summarize_signatures(reference, out))
            for kind in cosign.VERIFIED_PREDICATES:
                out = await verifier.with_exec(
                    cosign.verify_attestation(reference, kind, self.github_repository, keyed=keyed)
                ).stdout()
                lines.append(cosign.summarize_attestations(reference, kind, out))
        return "\n".join(lines)
