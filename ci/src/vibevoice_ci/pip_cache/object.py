"""The pip cache across runs on GitHub's hosted runners, whose engines start empty.

actions/cache restores a directory; `pip-cache seed --cache DIR` copies it into the engine's pip caches
(the module's containers' and the image builds'); after the run `pip-cache snapshot` returns their
contents for actions/cache to save. On a laptop the engine keeps the volume by itself.
"""

from __future__ import annotations

from typing import Annotated

import dagger
from dagger import Doc, object_type

from vibevoice_ci.core.decorators import function
from vibevoice_ci.core.toolchain import Toolchain, call_time
from vibevoice_ci.pip_cache import containers


@object_type
class PipCache:
    """The engine's pip caches, filled from and copied out to the CI system's cache."""

    toolchain: Toolchain

    @function
    async def seed(
        self, cache: Annotated[dagger.Directory, Doc("a pip cache restored by the CI system")]
    ) -> str:
        """Fill the engine's pip caches (the module's and the image builds') from a restored copy."""
        python = await self.toolchain.tool("python")
        for seeded in containers.seeded(python, cache, call_time()):
            await seeded.sync()
        return "pip cache seeded"

    @function(cache="never")
    async def snapshot(self) -> dagger.Directory:
        """The engine's pip caches as they are now, merged, for the CI system to keep till the next run."""
        return containers.snapshot(await self.toolchain.tool("python"), call_time())
