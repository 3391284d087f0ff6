"""The rest of `make test`: pyright with both configurations, the pipeline's own tests, the model tests.

pyright and ci/tests run in the repository's dev environment (devenv); the model tests in the TTS
image's `test-model` stage (the test image plus the gpu extra with PyTorch's CPU build), so the model
code is tested on the runtime that ships. The realtime model tests also run in the `test-cuda` stage,
on top of the CUDA image with Microsoft's realtime package: a release checks them before it publishes
that image (too heavy for every `ci`).
"""

from __future__ import annotations

from collections.abc import Sequence

import dagger
from dagger import object_type

from vibevoice_ci import artifacts, commands, devenv, gpu
from vibevoice_ci.decorators import check, function
from vibevoice_ci.metadata import BuildInfo
from vibevoice_ci.outcomes import Step, synced
from vibevoice_ci.services import CUDA_TEST_TARGET, MODEL_TEST_TARGET, TTS


@object_type
class Suite:
    """Static types, the pipeline's tests and the model tests, as `make test` runs them."""

    source: dagger.Directory
    platform: str = artifacts.NATIVE
    redirects: Sequence[str] = ()  # air-gapped mode: main's --mirror and --image pairs (mirrors.py)

    @function
    async def env(self) -> dagger.Container:
        """The dev environment: Python, the dev extra, helm, cosign, espeak-ng, the source at /src."""
        return await devenv.for_source(self.source, self.redirects)

    @function
    @check
    async def typecheck(self) -> None:
        """pyright on the product and tests (standard) and on the pipeline module (strict)."""
        env = await self.env()
        for project in commands.PYRIGHT_PROJECTS:
            env = env.with_exec(commands.pyright(project))
        await env.sync()

    @function
    @check
    async def pipeline_tests(self) -> None:
        """The pipeline's own tests (ci/tests): queries, registration, command lines, workflows, gates."""
        await (await self.env()).with_exec(commands.pytest(paths=commands.PIPELINE_TESTS)).sync()

    @function
    @check
    async def repository_tests(self) -> None:
        """The tests of the repository's own files (scripts/), which the service images do not carry."""
        await (await self.env()).with_exec(commands.pytest(paths=commands.REPOSITORY_TESTS)).sync()

    @function
    @check
    def model_tests(self) -> dagger.Container:
        """The VibeVoice model tests (tiny random model, CPU) in the TTS image's test-model stage."""
        image = artifacts.image(
            self.source, TTS, self.platform, MODEL_TEST_TARGET, BuildInfo(), redirects=self.redirects
        )
        return image.with_exec(commands.pytest(markers=commands.MODEL_MARKER))

    @function
    def cuda_model_tests(self) -> dagger.Container:
        """The realtime model tests in the TTS image's test-cuda stage: Microsoft's realtime package at
        its pinned commit, a tiny random realtime model on the CPU (amd64; builds the CUDA image)."""
        image = artifacts.image(
            self.source, TTS, gpu.PLATFORM, CUDA_TEST_TARGET, BuildInfo(), redirects=self.redirects
        )
        return image.with_exec([], use_entrypoint=True)  # the stage's own entrypoint and test selection

    def steps(self) -> list[Step]:
        """Its checks as `ci` runs them."""
        return [
            ("typecheck", self.typecheck),
            ("pipeline tests", self.pipeline_tests),
            ("repository tests", self.repository_tests),
            ("model tests", synced(self.model_tests)),
        ]
