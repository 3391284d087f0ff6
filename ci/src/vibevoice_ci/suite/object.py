"""The rest of `make test`: pyright with both configurations, the pipeline's own tests, the model tests.

pyright and ci/tests run in the repository's dev environment (devenv); the model tests in the TTS
image's `test-model` stage (the test image plus the gpu extra with PyTorch's CPU build), so the model
code is tested on the runtime that ships. The realtime model tests also run in the `test-cuda` stage,
on top of the CUDA image with Microsoft's realtime package: a release checks them before it publishes
that image (too heavy for every `ci`).
"""

from __future__ import annotations

import dagger
from dagger import object_type

from vibevoice_ci.core import commands, inputs
from vibevoice_ci.core.decorators import check, function
from vibevoice_ci.core.metadata import BuildInfo
from vibevoice_ci.core.outcomes import Step, synced
from vibevoice_ci.core.toolchain import Toolchain
from vibevoice_ci.images.build import NATIVE, service_image
from vibevoice_ci.images.catalog import CUDA_IMAGE, CUDA_TEST_TARGET, MODEL_TEST_TARGET, TTS
from vibevoice_ci.suite import devenv


@object_type
class Suite:
    """Static types, the pipeline's tests and the model tests, as `make test` runs them."""

    toolchain: Toolchain
    platform: str = NATIVE

    @function
    async def env(self) -> dagger.Container:
        """The dev environment: Python, the dev extra, helm, cosign, espeak-ng, the repository at /src
        and the product installed (what each check below runs in, with only what it reads)."""
        return await devenv.dev_env(self.toolchain, inputs.EVERYTHING, product=True)

    @function
    @check
    async def typecheck(self) -> None:
        """pyright on the product and tests (standard) and on the pipeline module (strict)."""
        env = await devenv.dev_env(self.toolchain, inputs.TYPECHECK)
        for project in commands.PYRIGHT_PROJECTS:
            env = env.with_exec(commands.pyright(project))
        await env.sync()

    @function
    @check
    async def pipeline_tests(self) -> None:
        """The pipeline's own tests (ci/tests): the recorded functions, command lines, workflows, gates."""
        env = await devenv.dev_env(self.toolchain, inputs.PIPELINE_TESTS, product=True)
        await env.with_exec(commands.pytest(paths=commands.PIPELINE_TESTS, workers=True)).sync()

    @function
    @check
    async def repository_tests(self) -> None:
        """The tests of the repository's own files (scripts/), which the service images do not carry."""
        env = await devenv.dev_env(self.toolchain, inputs.REPOSITORY_TESTS, product=True)
        await env.with_exec(commands.pytest(paths=commands.REPOSITORY_TESTS, workers=True)).sync()

    @function
    @check
    async def model_tests(self) -> dagger.Container:
        """The VibeVoice model tests (tiny random model, CPU) in the TTS image's test-model stage."""
        built = await service_image(self.toolchain, TTS, self.platform, MODEL_TEST_TARGET, BuildInfo())
        return built.with_exec(commands.pytest(markers=commands.MODEL_MARKER))

    @function
    async def cuda_model_tests(self) -> dagger.Container:
        """The realtime model tests in the TTS image's test-cuda stage: Microsoft's realtime package at
        its pinned commit, a tiny random realtime model on the CPU (amd64; builds the CUDA image)."""
        (platform,) = CUDA_IMAGE.only_platforms
        built = await service_image(self.toolchain, TTS, platform, CUDA_TEST_TARGET, BuildInfo())
        return built.with_exec([], use_entrypoint=True)  # the stage's own entrypoint and test selection

    def steps(self) -> list[Step]:
        """Its checks as `ci` runs them."""
        return [
            ("typecheck", self.typecheck),
            ("pipeline tests", self.pipeline_tests),
            ("repository tests", self.repository_tests),
            ("model tests", synced(self.model_tests)),
        ]
