"""The GPU concern: the TTS cuda image on an engine that sees NVIDIA GPUs (never part of `ci`).

The service's settings and the smoke's command line are in gpu; the containers in gpu_containers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import dagger
from dagger import Doc, object_type

from vibevoice_ci import artifacts, gpu, gpu_containers
from vibevoice_ci.decorators import function
from vibevoice_ci.metadata import BuildInfo
from vibevoice_ci.services import TTS


@object_type
class Gpu:
    """The TTS cuda image with all the engine's GPUs (a self-hosted GPU runner)."""

    source: dagger.Directory

    @function(cache="never")
    def smoke(
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
        `dagger call gpu smoke stdout`: the smoke's report, and a failed call if the smoke fails.
        """
        image = artifacts.image(self.source, TTS, gpu.PLATFORM, gpu.TARGET, BuildInfo())
        service = gpu_containers.gpu_service(image, model=model, port=TTS.port)
        return gpu_containers.smoke_client(
            image, service, alias=TTS.name, url=TTS.url, wait_s=wait, run_id=datetime.now(UTC).isoformat()
        )
