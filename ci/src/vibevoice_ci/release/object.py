"""The release concern: publish, sign, attest and verify, with the identity declared once.

`dagger call release <registry, credentials, run, signer> run --repository ...` is the whole release;
`publish` is that release without the signing (main's `publish` is this), and `sign`, `attest` and
`verify` are its other steps on their own. The identity and the signer are values given once to
main's `release` (identity.py); the logic is in cosign and provenance, the containers in publishing
and signing, the scans the supply chain's.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated

import dagger
from dagger import DefaultPath, Doc, dag, object_type

from vibevoice_ci.core.decorators import function
from vibevoice_ci.core.redirects import BASES
from vibevoice_ci.core.toolchain import Toolchain, call_time
from vibevoice_ci.images.build import variants
from vibevoice_ci.images.catalog import CUDA_IMAGE, RELEASE_IMAGES, ReleaseImage
from vibevoice_ci.release import cosign, provenance
from vibevoice_ci.release.identity import Identity, Signer
from vibevoice_ci.release.publishing import commit_time, push, registry_auth, resolve_bases
from vibevoice_ci.release.signing import cosign_env
from vibevoice_ci.services.smoke import smoke_native
from vibevoice_ci.suite.object import Suite
from vibevoice_ci.supply_chain.scanner import scanner

RefsArg = Annotated[Sequence[str], Doc("image references by digest (name[:tag]@sha256:...)")]
PublicKeyArg = Annotated[dagger.File | None, Doc("cosign.pub, when signed with a key")]
GitArg = Annotated[
    dagger.GitRef, DefaultPath("/"), Doc("the commit released: its time is the images' created")
]
RepositoryArg = Annotated[str, Doc("repository path, e.g. owner/project (lowercased)")]
CreatedArg = Annotated[str, Doc("the commit time (ISO 8601 with offset); default: read from git")]
SourceUrlArg = Annotated[str, Doc("the repository's URL, e.g. https://github.com/owner/project")]
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


@dataclass(frozen=True)
class Published:
    """What publishing left for the signing: the references by digest, the scans' evidence, and the
    base images the builds used (build argument -> reference by digest)."""

    references: list[str]
    evidence: dagger.Directory
    bases: Mapping[str, str]


@object_type
class Release:
    """Publishing, signing, attesting and verifying this repository's images on one registry."""

    toolchain: Toolchain
    identity: Identity
    signer: Signer
    platforms: list[str]
    severity: str = "CRITICAL"
    db_repository: str = ""
    cuda: bool = False

    @function(cache="never")
    async def publish(
        self,
        *,
        repository: RepositoryArg,
        git: GitArg,
        created: CreatedArg = "",
        source_url: Annotated[str, Doc("the repository's URL; default: its GitHub URL")] = "",
    ) -> list[str]:
        """Build every variant, scan (gate), smoke, and push each image as one multi-platform image
        per tag; the release without the signing. Returns the references by digest; nothing is pushed
        unless every image passed the scan gate and the smoke."""
        return (await self._publish(repository, git, created, source_url)).references

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
        self.signer.check()
        published = await self._publish(repository, git, created, "")
        refs = cosign.unique_by_digest(published.references)
        env = await self._cosign(signs=True)
        evidence = published.evidence.with_new_file("signatures.txt", await self._sign(env, refs) + "\n")
        build = await self._build(started, published.bases)
        evidence = await self._attest(env, published.references, evidence, build)
        verified = await self._verify(env, refs, public_key if self.signer.keyed else None)
        return evidence.with_new_file("verification.txt", verified + "\n")

    @function(cache="never")
    async def sign(self, refs: RefsArg) -> str:
        """cosign sign of each image by digest (--recursive), annotated with commit, run and build matrix."""
        self.signer.check()
        return await self._sign(await self._cosign(signs=True), cosign.unique_by_digest(refs))

    @function(cache="never")
    async def attest(self, refs: RefsArg) -> dagger.Directory:
        """SBOM (cyclonedx), Trivy report (vuln) and SLSA v1 provenance of published images, by digest.

        Each image is pulled by digest for every platform and scanned and described as pulled. Returns
        what was attested. The provenance names the base images as they resolve now (through the
        redirects): `run` names the very ones its builds used.
        """
        started = provenance.now()
        self.signer.check()
        env = await self._cosign(signs=True)
        scan = await scanner(self.toolchain, db_repository=self.db_repository)
        evidence = dag.directory()
        for reference in cosign.first_by_digest(refs):
            folder = provenance.folder_of(reference)
            pulled = {
                p: dag.container(platform=dagger.Platform(p)).from_(cosign.by_digest(reference))
                for p in self._image(folder).platforms(self.platforms)
            }
            evidence = evidence.with_directory(folder, scan.evidence(pulled))
        bases = await resolve_bases(self.toolchain)
        return await self._attest(env, refs, evidence, await self._build(started, bases))

    @function(cache="never")
    async def verify(self, refs: RefsArg, public_key: PublicKeyArg = None) -> str:
        """cosign verify and verify-attestation (cyclonedx, vuln, slsaprovenance1) against this repository's
        release workflow and GitHub's OIDC issuer (or a public key); a summary of what was verified."""
        return await self._verify(await self._cosign(signs=False), cosign.unique_by_digest(refs), public_key)

    # -- wiring (plain methods: not part of the module's API) -------------------------------------

    async def _publish(self, repository: str, git: dagger.GitRef, created: str, source_url: str) -> Published:
        """Every variant built from the bases resolved once, scanned, smoked, then pushed."""
        password = self.identity.credentials()
        images = self._images()
        references = self.identity.references(images, repository)
        info = self.identity.build_info(created or await commit_time(self.toolchain, git), source_url)
        bases = await resolve_bases(self.toolchain)
        table = await variants(self.toolchain, self.platforms, info, images, bases)
        scan = await scanner(self.toolchain, severity=self.severity, db_repository=self.db_repository)
        # Every image through the scan gate at once (one error naming each image that failed), then
        # the reports and SBOMs of the same scans (one exec each: one call time per call) as evidence.
        await scan.gate(table)
        evidence = dag.directory()
        for (name, platform), image in table.items():
            evidence = evidence.with_directory(name, scan.evidence({platform: image}))
        await smoke_native(table)  # the shipped images; the CUDA one needs a GPU, so instead:
        if CUDA_IMAGE in images:
            await (await Suite(toolchain=self.toolchain).cuda_model_tests()).sync()
        publisher = registry_auth(self.identity.registry, self.identity.username, password)
        published = await push(references, table, publisher)
        evidence = evidence.with_new_file("digests.txt", "".join(f"{line}\n" for line in published))
        return Published(published, evidence, bases)

    def _images(self) -> tuple[ReleaseImage, ...]:
        return self.identity.images(cuda=self.cuda)

    def _image(self, key: str) -> ReleaseImage:
        return next(image for image in RELEASE_IMAGES if image.key == key)

    def _matrix(self) -> list[provenance.MatrixEntry]:
        """Every variant this release builds: service, Dockerfile, target, platform."""
        return [
            provenance.MatrixEntry(image.service.name, image.service.dockerfile, image.target, platform)
            for image in self._images()
            for platform in image.platforms(self.platforms)
        ]

    async def _cosign(self, *, signs: bool) -> dagger.Container:
        """cosign, logged into the registry when a password is given (a docker config built in memory,
        mounted as a secret), with the signer's identity when it signs."""
        identity, auth = self.identity, None
        if signs or identity.password is not None:
            config = cosign.docker_config(
                identity.registry, identity.username, await identity.credentials().plaintext()
            )
            digest = hashlib.sha256(f"{identity.registry}\n{identity.username}".encode()).hexdigest()[:12]
            auth = dag.set_secret(f"cosign-docker-config-{digest}", config)
        pin = await self.toolchain.tool("cosign")
        return cosign_env(pin, self.signer, fresh=call_time(), registry_auth=auth, signs=signs)

    def _annotations(self) -> dict[str, str]:
        identity = self.identity
        return cosign.signature_annotations(
            sha=identity.sha,
            run_id=identity.run_id,
            run_attempt=identity.run_attempt,
            workflow_ref=identity.workflow_ref,
            matrix=[(entry.service, entry.target, entry.platform) for entry in self._matrix()],
        )

    async def _sign(self, env: dagger.Container, refs: Sequence[str]) -> str:
        for reference in refs:
            await env.with_exec(cosign.sign(reference, self._annotations(), keyed=self.signer.keyed)).sync()
        return "\n".join(f"signed {reference} (and its platform manifests)" for reference in refs)

    async def _build(self, started: str, bases: Mapping[str, str]) -> provenance.Build:
        """What the provenance states: source, matrix, engine, tool and base images, run and times."""
        engine = json.loads(await self.toolchain.source.file("dagger.json").contents())["engineVersion"]
        tools = [await self.toolchain.tool(tool) for tool in ("python", "uv", "trivy", "cosign")]
        declared = {argument: default for argument, default in BASES.values()}
        identity = self.identity
        return provenance.Build(
            github_repository=identity.github_repository,
            ref=identity.ref,
            sha=identity.sha,
            engine_version=str(engine),
            workflow_ref=identity.workflow,
            run_id=identity.run_id,
            run_attempt=identity.run_attempt,
            started_on=started,
            finished_on=provenance.now(),
            matrix=self._matrix(),
            tool_images=tools,
            base_images={declared[argument]: reference for argument, reference in bases.items()},
            version=identity.build_info("").version,
        )

    async def _attest(
        self,
        env: dagger.Container,
        published: Sequence[str],
        evidence: dagger.Directory,
        build: provenance.Build,
    ) -> dagger.Directory:
        """Per image: its provenance statement, and every platform's SBOM and scan, attested by digest."""
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
                await attesting.with_exec(cosign.attest(reference, predicate, keyed=self.signer.keyed)).sync()
        return evidence

    async def _verify(
        self, verifier: dagger.Container, refs: Sequence[str], public_key: dagger.File | None
    ) -> str:
        """Each image's signatures and attestations verified; what cosign proved, in a few lines each."""
        keyed = public_key is not None
        if public_key is not None:
            verifier = verifier.with_file(cosign.PUBLIC_KEY_PATH, public_key)
        repository = self.identity.github_repository
        sha = self.identity.sha.strip().lower()
        required = {cosign.ANNOTATION_PREFIX + "git-sha": sha} if sha else None
        lines: list[str] = []
        for reference in refs:
            out = await verifier.with_exec(
                cosign.verify(reference, repository, required, keyed=keyed)
            ).stdout()
            lines.append(cosign.summarize_signatures(reference, out))
            for kind in cosign.VERIFIED_PREDICATES:
                out = await verifier.with_exec(
                    cosign.verify_attestation(reference, kind, repository, keyed=keyed)
                ).stdout()
                lines.append(cosign.summarize_attestations(reference, kind, out))
        return "\n".join(lines)
