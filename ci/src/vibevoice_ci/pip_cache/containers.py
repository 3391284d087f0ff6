"""The pip caches' round trip: both filled from a CI cache, both copied out for it.

Two caches (core.toolchain: why two): the module's volume, reached by mounting it, and the image
builds', reached only as the product's Dockerfiles reach it, by a Dockerfile with the same cache mount.
"""

from __future__ import annotations

import dagger
from dagger import dag

from vibevoice_ci.core.pins import ImagePin
from vibevoice_ci.core.toolchain import PIP_CACHE_ID, PIP_CACHE_PATH, with_pip_cache

SEED_PATH = "/seed"
SNAPSHOT_PATH = "/snapshot"
SNAPSHOT_TIME = "PIP_CACHE_SNAPSHOT"


def seeded(python: ImagePin, seed: dagger.Directory, fresh: str) -> list[dagger.Container]:
    """Both pip caches filled from `seed` (a cache restored by the CI system), kept as they are: the
    module's volume, and the builds' through a Dockerfile."""
    module = (
        with_pip_cache(dag.container().from_(python.reference))
        .with_mounted_directory(SEED_PATH, seed)
        .with_exec(["cp", "-a", f"{SEED_PATH}/.", PIP_CACHE_PATH])
    )
    return [module, _builds_pip_cache(python, f"cp -a {SEED_PATH}/. {PIP_CACHE_PATH}", seed, fresh)]


def snapshot(python: ImagePin, fresh: str) -> dagger.Directory:
    """Both pip caches as they are at `fresh` (the time of the call), merged, for the CI cache (pip's
    cache files are named by their content, so the two merge without conflict)."""
    module = (
        with_pip_cache(dag.container().from_(python.reference))
        .with_env_variable(SNAPSHOT_TIME, fresh)
        .with_exec(["cp", "-a", f"{PIP_CACHE_PATH}/.", SNAPSHOT_PATH])
        .directory(SNAPSHOT_PATH)
    )
    copy = f"mkdir -p {SNAPSHOT_PATH} && cp -a {PIP_CACHE_PATH}/. {SNAPSHOT_PATH}"
    builds = _builds_pip_cache(python, copy, dag.directory(), fresh).directory(SNAPSHOT_PATH)
    return dag.directory().with_directory(".", module).with_directory(".", builds)


def _builds_pip_cache(python: ImagePin, script: str, seed: dagger.Directory, fresh: str) -> dagger.Container:
    """`script` run by a Dockerfile with the builds' pip cache mounted as the product's Dockerfiles
    mount it, `seed` at SEED_PATH; `fresh` (the call's time) keeps the engine from replaying it."""
    dockerfile = (
        f"FROM {python.reference}\nARG {SNAPSHOT_TIME}\n"
        f"RUN --mount=type=cache,id={PIP_CACHE_ID},target={PIP_CACHE_PATH} "
        f"--mount=type=bind,source=seed,target={SEED_PATH} {script}\n"
    )
    context = dag.directory().with_directory("seed", seed).with_new_file("Dockerfile", dockerfile)
    return context.docker_build(build_args=[dagger.BuildArg(name=SNAPSHOT_TIME, value=fresh)])
