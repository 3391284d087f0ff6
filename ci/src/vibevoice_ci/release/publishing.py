"""What publishing a release needs beside the images: the commit time, the base images resolved to
the digests the builds use, the registry's credentials, and the push of each multi-platform image.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import dagger
from dagger import dag

from vibevoice_ci.core import commands
from vibevoice_ci.core.redirects import BASES
from vibevoice_ci.core.toolchain import Toolchain
from vibevoice_ci.images import catalog
from vibevoice_ci.images.build import of_service


async def commit_time(toolchain: Toolchain, git: dagger.GitRef) -> str:
    """The commit time of `git` (the repository's HEAD by default), read by git itself."""
    reader = (await toolchain.container("python")).with_exec(commands.apt_install(["git"]))
    return (
        await reader.with_directory("/repo", git.tree(discard_git_dir=False))
        .with_workdir("/repo")
        .with_exec(commands.git_commit_time())
        .stdout()
    ).strip()


async def resolve_bases(toolchain: Toolchain) -> dict[str, str]:
    """The Dockerfiles' base images a release builds from, as the build argument -> the reference by
    digest, resolved once, through the redirects. The builds take these very references, so the
    provenance states the bases they used (a tag that moves meanwhile moves neither)."""
    resolved: dict[str, str] = {}
    for name, (argument, default) in BASES.items():
        reference = toolchain.redirects.reference(name, default)
        resolved[argument] = await dag.container().from_(reference).image_ref()
    return resolved


def registry_auth(registry: str, username: str, password: dagger.Secret) -> dagger.Container:
    """An empty container holding the registry credentials: it publishes the platform variants."""
    return dag.container().with_registry_auth(registry, username, password)


async def push(
    references: Mapping[str, Sequence[str]],
    table: Mapping[tuple[str, str], dagger.Container],
    publisher: dagger.Container,
) -> list[str]:
    """Each image as one multi-platform image under each of its references; returns them by digest.

    Nothing is pushed if a variant was built for another platform than asked (catalog.wrong_platforms).
    """
    if wrong := catalog.wrong_platforms({key: await image.platform() for key, image in table.items()}):
        msg = "not publishing: " + "; ".join(wrong)
        raise ValueError(msg)
    published: list[str] = []
    for name, tagged in references.items():
        for reference in tagged:
            published.append(await publisher.publish(reference, platform_variants=of_service(table, name)))
    return published
