"""The rest of `make test`: pyright with both configurations, the pipeline's own tests, the model tests.

pyright and ci/tests run in the repository's dev environment (devenv); the model tests in the TTS
image's `test-model` stage (the test image plus the gpu extra with PyTorch's CPU build), so the model
code is tested on the runtime that ships.
"""

from __future__ import annotations

import dagger
from dagger import object_type

from vibevoice_ci import artifacts, commands, devenv
from vibevoice_ci.decorators import check, function
from vibevoice_ci.metadata import BuildInfo
from vibevoice_ci.outcomes import Step, synced
from vibevoice_ci.services import MODEL_TEST_TARGET, TTS


@object_type
class Suite:
    """Static types, the pipeline's tests and the model tests, as `make test` runs them."""

    source: dagger.Directory
    platform: str = artifacts.NATIVE

    @function
    async def env(self) -> dagger.Container:
        """The dev environment: Python, the dev extra, helm, cosign, espeak-ng, the source at /src."""
        return await devenv.for_source(self.source)

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
    def model_tests(self) -> dagger.Container:
        """The VibeVoice model tests (tiny random model, CPU) in the TTS image's test-model stage."""
        image = artifacts.image(self.source, TTS, self.platform, MODEL_TEST_TARGET, BuildInfo())
        return image.with_exec(commands.pytest(markers=commands.MODEL_MARKER))

    def steps(self) -> list[Step]:
        """Its checks as `ci` runs them."""
        return [
            ("typecheck", self.typecheck),
            ("pipeline tests", self.pipeline_tests),
            ("model tests", synced(self.model_tests)),
        ]
