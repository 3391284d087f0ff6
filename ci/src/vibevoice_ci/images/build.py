"""The product's images as the engine builds them: which Dockerfile at which target for which
platform, with which build arguments, labels and annotations.

Every concern that needs an image builds it here, so an image is defined once and the engine builds
it once per call, whoever asks for it. The redirects (air-gapped mode) reach the builds as the
Dockerfiles' build arguments; a release passes the base images it resolved to digests (`bases`), so
that what it states in its provenance is what the build used. The context is what the Dockerfile's
ignore file lets through (Toolchain.build_context), so an edit elsewhere leaves every build as it was.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import dagger

from vibevoice_ci.core.metadata import BuildInfo, build_args, oci_annotations
from vibevoice_ci.core.toolchain import Toolchain
from vibevoice_ci.images import catalog
from vibevoice_ci.images.catalog import SERVICES, ReleaseImage, ServiceSpec

# The engine's own platform: an arm64 laptop builds and runs arm64 natively, GitHub's runners amd64.
NATIVE = ""


def platform_of(platform: str) -> dagger.Platform | None:
    """A validated platform, or None (NATIVE) for the engine's own (`dag.default_platform()`)."""
    if not platform.strip():
        return None
    (checked,) = catalog.platforms([platform])
    return dagger.Platform(checked)


async def service_image(
    toolchain: Toolchain,
    spec: ServiceSpec,
    platform: str,
    target: str,
    info: BuildInfo,
    *,
    bases: Mapping[str, str] | None = None,
) -> dagger.Container:
    """`docker build` of the service's Dockerfile at `target`, labelled and annotated; its base images
    where the redirects say, or `bases` (build argument -> reference) where given."""
    arguments = (
        build_args(info) | spec.target_args(target) | toolchain.redirects.build_args() | dict(bases or {})
    )
    built_for, stage = platform_of(platform), spec.target(target)  # refused before anything is asked
    context = await toolchain.build_context(spec.dockerfile)
    built = context.docker_build(
        dockerfile=spec.dockerfile,
        platform=built_for,
        target=stage,
        build_args=[dagger.BuildArg(name=key, value=value) for key, value in arguments.items()],
    )
    for key, value in oci_annotations(spec.name, info).items():
        built = built.with_label(key, value).with_annotation(key, value)
    return built


async def shipped(toolchain: Toolchain, platform: str, info: BuildInfo) -> dict[str, dagger.Container]:
    """Each service's shipped image for one platform."""
    return {
        name: await service_image(toolchain, spec, platform, spec.shipped_target, info)
        for name, spec in SERVICES.items()
    }


async def variants(
    toolchain: Toolchain,
    platforms: Sequence[str],
    info: BuildInfo,
    images: Sequence[ReleaseImage] = catalog.SHIPPED_IMAGES,
    bases: Mapping[str, str] | None = None,
) -> dict[tuple[str, str], dagger.Container]:
    """Each release image for each of `platforms` it is built for, keyed (image key, platform): the
    shipped images (keyed by their service's name) first, in dependency order."""
    return {
        (release.key, platform): await service_image(
            toolchain, release.service, platform, release.target, info, bases=bases
        )
        for release in images
        for platform in release.platforms(platforms)
    }


def of_service(table: Mapping[tuple[str, str], dagger.Container], key: str) -> list[dagger.Container]:
    """One release image's platform variants from a variants table, in platform order."""
    return [built for (image_key, _), built in table.items() if image_key == key]
