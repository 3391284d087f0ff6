"""The product's images, services and smoke client, as every concern of the module builds them.

Wiring only: which Dockerfile at which target for which platform, with which labels; which image
runs as which service under which alias; which tool image a pin names. main.py and the concern
objects (supply chain, chart, benchmark, services, gpu) all build on these, so an image is defined
once and the engine builds it once per call, whoever asks for it. Every builder returns a lazily
defined object, so the tests read the query it builds without an engine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import dagger
from dagger import dag

from vibevoice_ci import commands, services, toolchain
from vibevoice_ci import images as tool_images
from vibevoice_ci.metadata import BuildInfo, build_args, oci_annotations
from vibevoice_ci.mirrors import Redirects
from vibevoice_ci.services import AGENT, SERVICES, TTS, ServiceSpec

# The engine's own platform: an arm64 laptop builds and runs arm64 natively, GitHub's runners amd64.
NATIVE = ""
# Copying the pip cache in from a CI cache and back out (the engine on a hosted runner starts empty).
SEED_PATH = "/seed"
SNAPSHOT_PATH = "/snapshot"
SNAPSHOT_TIME = "PIP_CACHE_SNAPSHOT"


def platform_of(platform: str) -> dagger.Platform | None:
    """A validated platform, or None (NATIVE) for the engine's own (`dag.default_platform()`)."""
    if not platform.strip():
        return None
    (checked,) = services.platforms([platform])
    return dagger.Platform(checked)


def image(
    source: dagger.Directory,
    spec: ServiceSpec,
    platform: str,
    target: str,
    info: BuildInfo,
    *,
    redirects: Sequence[str] = (),
) -> dagger.Container:
    """`docker build` of the service's Dockerfile at `target`, labelled and annotated; `redirects`
    (air-gapped mode, mirrors.py) may move its base images to a mirror."""
    arguments = build_args(info) | spec.target_args(target) | Redirects.decode(redirects).build_args()
    built = source.docker_build(
        dockerfile=spec.dockerfile,
        platform=platform_of(platform),
        target=spec.target(target),
        build_args=[dagger.BuildArg(name=key, value=value) for key, value in arguments.items()],
    )
    for key, value in oci_annotations(spec.name, info).items():
        built = built.with_label(key, value).with_annotation(key, value)
    return built


def shipped(
    source: dagger.Directory, platform: str, info: BuildInfo, redirects: Sequence[str] = ()
) -> dict[str, dagger.Container]:
    """Each service's shipped image for one platform."""
    return {
        name: image(source, spec, platform, spec.shipped_target, info, redirects=redirects)
        for name, spec in SERVICES.items()
    }


def variants(
    source: dagger.Directory,
    platforms: Sequence[str],
    info: BuildInfo,
    images: Sequence[services.ReleaseImage] = services.SHIPPED_IMAGES,
    redirects: Sequence[str] = (),
) -> dict[tuple[str, str], dagger.Container]:
    """Each release image for each of `platforms` it is built for, keyed (image key, platform): the
    shipped images (keyed by their service's name) first, in dependency order."""
    return {
        (release.key, platform): image(
            source, release.service, platform, release.target, info, redirects=redirects
        )
        for release in images
        for platform in release.platforms(platforms)
    }


def of_service(table: Mapping[tuple[str, str], dagger.Container], key: str) -> list[dagger.Container]:
    """One release image's platform variants from a variants table, in platform order."""
    return [built for (image_key, _), built in table.items() if image_key == key]


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


def smoke_client(images: Mapping[str, dagger.Container]) -> dagger.Container:
    """The shipped TTS image (it carries vibevoice-smoke) running the smoke against both services."""
    client = images[TTS.name]
    for name, service in bound_services(images).items():
        client = client.with_service_binding(name, service)
    return client.with_exec(commands.smoke(TTS.url, AGENT.url))


async def smoke_native(table: Mapping[tuple[str, str], dagger.Container]) -> None:
    """The smoke test on the platform the engine runs natively (nothing is promoted if it fails)."""
    wanted = list(dict.fromkeys(platform for _, platform in table))
    native = services.runnable_platform(await dag.default_platform(), wanted)
    await smoke_client({name: table[(name, native)] for name in SERVICES}).sync()


async def tool_image(
    source: dagger.Directory, tool: str, redirects: Sequence[str] = ()
) -> tool_images.ImagePin:
    """A tool image as ci/images/<tool>/Dockerfile pins it, pulled from where `redirects` say."""
    pin = tool_images.parse_pin(tool, await source.file(tool_images.pin_path(tool)).contents())
    return Redirects.decode(redirects).pin(pin)


def pip_cache(container: dagger.Container) -> dagger.Container:
    """`container` with the pipeline's pip cache volume mounted (see caches.py for its round trip)."""
    return container.with_mounted_cache(
        toolchain.PIP_CACHE_PATH, dag.cache_volume(toolchain.PIP_CACHE_VOLUME)
    )


async def commit_time(source: dagger.Directory, git: dagger.GitRef, redirects: Sequence[str] = ()) -> str:
    """The commit time of `git` (the repository's HEAD by default), read by git itself."""
    python = await tool_image(source, "python", redirects)
    repository = git.tree(discard_git_dir=False)
    reader = dag.container().from_(python.reference).with_exec(commands.apt_install(["git"]))
    return (
        await reader.with_directory("/repo", repository)
        .with_workdir("/repo")
        .with_exec(commands.git_commit_time())
        .stdout()
    ).strip()


def registry_auth(registry: str, username: str, password: dagger.Secret) -> dagger.Container:
    """An empty container holding the registry credentials: it publishes the platform variants."""
    return dag.container().with_registry_auth(registry, username, password)


async def push(
    references: Mapping[str, Sequence[str]],
    table: Mapping[tuple[str, str], dagger.Container],
    publisher: dagger.Container,
) -> list[str]:
    """Each service as one multi-platform image under each of its references; returns them by digest.

    Nothing is pushed if a variant was built for another platform than asked (services.wrong_platforms).
    """
    if wrong := services.wrong_platforms({key: await image.platform() for key, image in table.items()}):
        msg = "not publishing: " + "; ".join(wrong)
        raise ValueError(msg)
    published: list[str] = []
    for name, tagged in references.items():
        for reference in tagged:
            published.append(await publisher.publish(reference, platform_variants=of_service(table, name)))
    return published


def pip_cache_seeded(
    python: tool_images.ImagePin, seed: dagger.Directory, fresh: str
) -> list[dagger.Container]:
    """Both pip caches filled from `seed` (a cache restored by the CI system), kept as they are: the
    module's volume, and the builds' through a Dockerfile (toolchain: why two)."""
    module = (
        pip_cache(dag.container().from_(python.reference))
        .with_mounted_directory(SEED_PATH, seed)
        .with_exec(["cp", "-a", f"{SEED_PATH}/.", toolchain.PIP_CACHE_PATH])
    )
    builds = _builds_pip_cache(python, f"cp -a {SEED_PATH}/. {toolchain.PIP_CACHE_PATH}", seed, fresh)
    return [module, builds]


def pip_cache_snapshot(python: tool_images.ImagePin, fresh: str) -> dagger.Directory:
    """Both pip caches as they are at `fresh` (the time of the call), merged, for the CI cache (pip's
    cache files are named by their content, so the two merge without conflict)."""
    module = (
        pip_cache(dag.container().from_(python.reference))
        .with_env_variable(SNAPSHOT_TIME, fresh)
        .with_exec(["cp", "-a", f"{toolchain.PIP_CACHE_PATH}/.", SNAPSHOT_PATH])
        .directory(SNAPSHOT_PATH)
    )
    copy = f"mkdir -p {SNAPSHOT_PATH} && cp -a {toolchain.PIP_CACHE_PATH}/. {SNAPSHOT_PATH}"
    builds = _builds_pip_cache(python, copy, dag.directory(), fresh).directory(SNAPSHOT_PATH)
    return dag.directory().with_directory(".", module).with_directory(".", builds)


def _builds_pip_cache(
    python: tool_images.ImagePin, script: str, seed: dagger.Directory, fresh: str
) -> dagger.Container:
    """`script` run by a Dockerfile with the builds' pip cache mounted as the product's Dockerfiles
    mount it, `seed` at SEED_PATH; `fresh` (the call's time) keeps the engine from replaying it."""
    dockerfile = (
        f"FROM {python.reference}\nARG {SNAPSHOT_TIME}\n"
        f"RUN --mount=type=cache,id={toolchain.PIP_CACHE_ID},target={toolchain.PIP_CACHE_PATH} "
        f"--mount=type=bind,source=seed,target={SEED_PATH} {script}\n"
    )
    context = dag.directory().with_directory("seed", seed).with_new_file("Dockerfile", dockerfile)
    return context.docker_build(build_args=[dagger.BuildArg(name=SNAPSHOT_TIME, value=fresh)])
