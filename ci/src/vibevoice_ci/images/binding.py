"""The shipped images running beside each other: each as a service, bound to those it calls."""

from __future__ import annotations

from collections.abc import Mapping

import dagger

from vibevoice_ci.images.catalog import SERVICES


def bound_services(
    images: Mapping[str, dagger.Container], given: Mapping[str, dagger.Service] | None = None
) -> dict[str, dagger.Service]:
    """The images as services, each bound to the services it depends on under their names; a service
    in `given` (the TTS on a GPU, say) is used as it is instead of one built from an image."""
    started: dict[str, dagger.Service] = dict(given or {})
    for name, spec in SERVICES.items():  # the table lists dependencies first
        if name in started:
            continue
        running = images[name]
        for dependency in spec.depends_on:
            running = running.with_service_binding(dependency, started[dependency])
        for key, value in sorted(spec.bound_env.items()):
            running = running.with_env_variable(key, value)
        started[name] = running.with_exposed_port(spec.port).as_service(use_entrypoint=True)
    return started
