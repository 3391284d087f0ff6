"""What the module works from: the repository, and where the images its tools run in come from.

Every concern holds one `Toolchain`, made once by main.py from the module's own arguments: the
source, and the air-gapped redirects parsed into one typed value. A tool image is always taken
through it (`tool`), so no container can be pulled from upstream by forgetting a redirect. A step
takes the repository through it too, narrowed to what it reads (`inputs`, core.inputs;
`build_context` for the images).
The product images come from the repository's Dockerfiles (images.build); this is what the pipeline
adds around them (the pinned tools, the pip cache it keeps between runs, what never enters it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import dagger
from dagger import dag

from vibevoice_ci.core import pins
from vibevoice_ci.core.inputs import Inputs
from vibevoice_ci.core.redirects import Redirects

# The Python the pipeline's own steps run in is pinned by digest in ci/images/python/Dockerfile
# (core.pins), the same Python line as the product's images.
PIP_CACHE_PATH = "/root/.cache/pip"
# Two pip caches: the volume the module's own containers mount, and the one the Dockerfiles' installs
# mount (`--mount=type=cache,id=vibevoice-pip`). The engine turns a Dockerfile's cache mount into a
# cache volume call of its own (key "/" + id, sharing and owner spelled out: util/llbtodagger in
# Dagger's source), which the SDK's cache_volume does not promise to reach; so the round trip
# (pip_cache) reaches the builds' cache the way the builds do, through a Dockerfile with that mount.
PIP_CACHE_VOLUME = "vibevoice-pip"
PIP_CACHE_ID = "vibevoice-pip"
WORKDIR = "/src"

# What never enters the pipeline from the repository: VCS data, local environments, caches and
# build output. Keeping them out keeps cache keys stable across machines and commits.
SOURCE_IGNORE = (
    ".git",
    ".venv",
    ".tools",
    ".cache",
    ".images",
    "**/__pycache__",
    "**/*.egg-info",
    "**/.pytest_cache",
    "**/.ruff_cache",
    "build",
    "dist",
    "out",
    "bench-out",
    "ci/sdk",
    "ci/.venv",
)


@dataclass(frozen=True)
class Toolchain:
    """The repository and the redirects: what every concern builds from."""

    source: dagger.Directory
    redirects: Redirects = field(default_factory=Redirects)

    def inputs(self, scope: Inputs) -> dagger.Directory:
        """The repository narrowed to what one step reads (core.inputs)."""
        return scope.of(self.source)

    async def build_context(self, dockerfile: str) -> dagger.Directory:
        """The build context of `dockerfile`: the repository less what its ignore file excludes
        (`<dockerfile>.dockerignore`, else `.dockerignore`, as BuildKit and Dagger read them), the
        Dockerfile kept. A file the Dockerfile does not copy then never reaches the build."""
        entries = await self.source.entries()
        ignore = f"{dockerfile}.dockerignore" if f"{dockerfile}.dockerignore" in entries else ".dockerignore"
        patterns = ignore_patterns(await self.source.file(ignore).contents()) if ignore in entries else []
        return self.source.filter(exclude=[*patterns, f"!{dockerfile}"])

    async def tool(self, name: str) -> pins.ImagePin:
        """A tool image as ci/images/<name>/Dockerfile pins it, pulled from where the redirects say."""
        dockerfile = await self.source.file(pins.pin_path(name)).contents()
        return self.redirects.pin(pins.parse_pin(name, dockerfile))

    async def container(self, name: str) -> dagger.Container:
        """A container of the tool image `name` (see `tool`)."""
        return dag.container().from_((await self.tool(name)).reference)

    async def binary(self, name: str) -> dagger.File:
        """The binary the tool image `name` carries (core.pins.BINARIES), to copy into another image."""
        return (await self.container(name)).file(pins.BINARIES[name])

    async def python(self) -> dagger.Container:
        """The pinned Python with the pipeline's pip cache mounted, its pip (and every venv's made from it,
        whose pip carries its own certificates) trusting the image's CA bundle: a base that trusts a
        TLS-intercepting proxy's CA then works (found on an engine here: the dev environment's venv
        failed every download with CERTIFICATE_VERIFY_FAILED where the image's own pip worked)."""
        python = await self.container("python")
        return with_pip_cache(python.with_env_variable("PIP_CERT", SYSTEM_CA_BUNDLE))


def ignore_patterns(text: str) -> list[str]:
    """A .dockerignore's patterns, as Docker reads them: one a line, `#` comments and blank lines
    left out, a leading `/` dropped (`!` negations kept, in order: the last match decides)."""
    patterns: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = line.removeprefix("!").strip().lstrip("/")
        if pattern:
            patterns.append(f"!{pattern}" if negated else pattern)
    return patterns


def with_pip_cache(container: dagger.Container) -> dagger.Container:
    """`container` with the pipeline's pip cache volume mounted (pip_cache carries it across runs)."""
    return container.with_mounted_cache(PIP_CACHE_PATH, dag.cache_volume(PIP_CACHE_VOLUME))


# Debian's CA bundle, which the Python images (Debian-based) carry and `update-ca-certificates` writes.
SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
# The variable an exec that must run at every call carries `call_time()` in.
CACHE_BUSTER = "CACHE_BUSTER"


def call_time() -> str:
    """The time of the call, to the microsecond: an input that changes per call, set on an exec that
    must run at every call (the engine replays an exec whose inputs did not change, even when the
    function's own cache is off)."""
    return datetime.now(UTC).isoformat()
