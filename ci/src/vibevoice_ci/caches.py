"""The pip cache across runs on GitHub's hosted runners, whose engines start empty.

actions/cache restores a directory; `pip-cache seed --cache DIR` copies it into the engine's pip caches
(the module's containers' and the image builds'); after the run `pip-cache snapshot` returns their
contents for actions/cache to save. On a laptop the engine keeps the volume by itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import dagger
from dagger import Doc, object_type

from vibevoice_ci import artifacts
from vibevoice_ci.decorators import function
from vibevoice_ci.scanning import now


@object_type
class PipCache:
    """The engine's pip caches, filled from and copied out to the CI system's cache."""

    source: dagger.Directory
    redirects: Sequence[str] = ()  # air-gapped mode: main's --mirror and --image pairs (mirrors.py)

    @function
    async def seed(
        self, cache: Annotated[dagger.Directory, Doc("a pip cache restored by the CI system")]
    ) -> str:
        """Fill the engine's pip caches (the module's and the image builds') from a restored copy."""
        python = await artifacts.tool_image(self.source, "python", self.redirects)
        for seeded in artifacts.pip_cache_seeded(python, cache, now()):
            await seeded.sync()
        return "pip cache seeded"

    @function(cache="never")
    async def snapshot(self) -> dagger.Directory:
        """The engine's pip caches as they are now, merged, for the CI system to keep till the next run."""
        return artifacts.pip_cache_snapshot(
            await artifacts.tool_image(self.source, "python", self.redirects), now()
        )
