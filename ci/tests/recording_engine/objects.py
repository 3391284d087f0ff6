"""The objects the stand-in engine keeps, and what it records when a function makes it run them.

Every object a query builds is kept under an ID. Its key is what the real engine's cache would key
it by: a directory or a file by its content (so a directory taken from the repository changes only
when a file in it changes), anything else by the key of what it was made from and how. An exec's
key is therefore "what would make the engine run it again", and the recording keeps, for each exec,
which repository files reached it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any


def digest(*parts: object) -> str:
    """A stable key for `parts` (JSON-encoded, objects by their keys)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class FileEntry:
    """One file: its content's digest, the repository path it came from (if any), its bytes if known."""

    digest: str
    origin: str | None = None
    data: bytes | None = None

    @classmethod
    def of(cls, data: bytes, origin: str | None = None) -> FileEntry:
        return cls(hashlib.sha256(data).hexdigest(), origin, data)


@dataclass(frozen=True)
class Tree:
    """A directory's content: known files by path, and the keys of content the engine cannot see
    (what an exec wrote, a git checkout): those change the key without listing files."""

    files: Mapping[str, FileEntry] = field(default_factory=dict[str, FileEntry])
    opaque: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return digest(sorted((path, entry.digest) for path, entry in self.files.items()), self.opaque)

    @property
    def origins(self) -> frozenset[str]:
        return frozenset(entry.origin for entry in self.files.values() if entry.origin)

    def under(self, prefix: str) -> Tree:
        """The subtree at `prefix`."""
        prefix = prefix.strip("/")
        if not prefix or prefix == ".":
            return self
        start = prefix + "/"
        files = {
            path.removeprefix(start): entry for path, entry in self.files.items() if path.startswith(start)
        }
        return Tree(files, tuple(digest(key, prefix) for key in self.opaque))

    def placed(self, prefix: str) -> Tree:
        """This tree moved under `prefix`."""
        prefix = prefix.strip("/")
        if not prefix or prefix == ".":
            return self
        return Tree({f"{prefix}/{path}": entry for path, entry in self.files.items()}, self.opaque)

    def merged(self, other: Tree) -> Tree:
        return Tree({**self.files, **other.files}, self.opaque + other.opaque)

    def entries(self, path: str = "") -> list[str]:
        tree = self.under(path)
        return sorted({name.split("/", 1)[0] + ("/" if "/" in name else "") for name in tree.files})


@dataclass(frozen=True)
class Image:
    """Where a container's filesystem starts: nothing, a pulled reference, or a Dockerfile build."""

    kind: str  # "scratch", "pulled", "built"
    reference: str = ""
    dockerfile: str = ""
    target: str = ""
    user: str = ""  # what the image declares (a build's Dockerfile USER)
    entrypoint: tuple[str, ...] = ()
    healthcheck: tuple[tuple[str, ...], bool] = ((), False)


@dataclass(frozen=True)
class Exec:
    """One exec as the engine would run it, with everything that could change its result."""

    key: str
    argv: tuple[str, ...]
    image: Image
    platform: str
    user: str | None  # None: the image's own user
    workdir: str
    env: Mapping[str, str]
    secret_env: Mapping[str, str]  # variable -> secret name
    mounts: Mapping[str, str]  # path -> what is mounted there (cache:KEY:SHARING, secret:NAME, temp)
    inputs: Mapping[str, str]  # path -> key of the directory or file placed there
    reads: frozenset[str]  # repository files that reached it (through any input)
    expect: str = "SUCCESS"  # or ANY: a failing exit leaves the chain going
    redirects: tuple[str, str] = ("", "")  # where stdout and stderr are kept
    services: tuple[str, ...] = ()  # the aliases bound

    @property
    def runs_as(self) -> str:
        """The user it runs as: the one the module set, else the image's."""
        return self.user if self.user is not None else self.image.user


@dataclass(frozen=True)
class Build:
    """A Dockerfile build of one target, with what it pulls and downloads."""

    key: str
    dockerfile: str
    target: str
    platform: str  # "": the engine's own
    build_args: Mapping[str, str]
    pulls: tuple[str, ...]
    downloads: tuple[str, ...]
    reads: frozenset[str]


@dataclass(frozen=True)
class Publish:
    address: str
    platforms: tuple[str, ...]
    published: str


@dataclass
class ContainerState:
    image: Image = field(default_factory=lambda: Image("scratch"))
    platform: str = ""
    user: str | None = None
    workdir: str = "/"
    env: dict[str, str] = field(default_factory=dict[str, str])
    secret_env: dict[str, str] = field(default_factory=dict[str, str])
    mounts: dict[str, str] = field(default_factory=dict[str, str])
    inputs: dict[str, Any] = field(default_factory=dict[str, Any])  # path -> Obj (directory or file)
    written: dict[str, bytes] = field(default_factory=dict[str, bytes])  # what simulated execs wrote
    services: dict[str, Any] = field(default_factory=dict[str, Any])  # alias -> Obj (service)
    labels: dict[str, str] = field(default_factory=dict[str, str])
    entrypoint: tuple[str, ...] | None = None
    last: tuple[str, str, int] = ("", "", 0)  # the last exec's stdout, stderr, exit code
    execs: int = 0

    def copy(self, **changes: Any) -> ContainerState:
        copied = replace(
            self,
            env=dict(self.env),
            secret_env=dict(self.secret_env),
            mounts=dict(self.mounts),
            inputs=dict(self.inputs),
            written=dict(self.written),
            services=dict(self.services),
            labels=dict(self.labels),
        )
        for name, value in changes.items():
            setattr(copied, name, value)
        return copied


@dataclass(eq=False)
class Obj:
    """One object of the API: its type, its key, what it was made from, and its state."""

    id: str
    type: str
    key: str
    op: str
    args: dict[str, Any]
    inputs: tuple[Obj, ...]
    state: Any = None
    parent: Obj | None = None
    exec: Exec | None = None
    build: Build | None = None
    pull: str = ""
