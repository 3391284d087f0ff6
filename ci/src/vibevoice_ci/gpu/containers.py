"""The containers of the GPU smoke: the TTS `cuda` image as a service with every GPU, and its client.

Wiring only; the settings and the command line come from settings.
"""

from __future__ import annotations

import dagger
from dagger import dag

from vibevoice_ci.gpu import settings


def gpu_service(image: dagger.Container, *, model: str, port: int) -> dagger.Service:
    """The `cuda` image serving `model` with all the engine's GPUs, its weights cache in a volume."""
    server = image.experimental_with_all_gp_us().with_mounted_cache(
        settings.MODEL_CACHE_PATH, dag.cache_volume(settings.MODEL_CACHE_VOLUME), owner=settings.RUNTIME_OWNER
    )
    for key, value in sorted(settings.service_env(model).items()):
        server = server.with_env_variable(key, value)
    return server.with_exposed_port(port).as_service(use_entrypoint=True)


def smoke_client(
    image: dagger.Container, service: dagger.Service, *, alias: str, url: str, wait_s: float, run_id: str
) -> dagger.Container:
    """`image` (it carries vibevoice-smoke) bound to the service under `alias`, running the smoke."""
    return (
        image.with_service_binding(alias, service)
        .with_env_variable(settings.RUN_ID_VARIABLE, run_id)
        .with_exec(settings.smoke(url, wait_s))
    )
