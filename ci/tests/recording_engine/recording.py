"""What the stand-in engine recorded: the module's registration, and what each function made it do."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from recording_engine.objects import Build, Exec, Publish


@dataclass(frozen=True)
class Argument:
    name: str
    kind: str  # STRING_KIND, OBJECT_KIND, LIST_KIND, ...
    type_name: str  # an object's name (Directory, Secret, ...), else ""
    optional: bool
    default_path: str
    ignore: tuple[str, ...]
    default: str | None  # JSON
    doc: str


@dataclass(frozen=True)
class Function:
    name: str
    returns: str  # an object's name, or a kind
    cache: str  # "" (the engine's default), NEVER, PER_SESSION, or a time to live
    check: bool
    arguments: tuple[Argument, ...]
    doc: str


@dataclass(frozen=True)
class Registration:
    """The module as the SDK registered it with the engine: objects and their functions."""

    main: str
    objects: Mapping[str, Mapping[str, Function]]  # "" is an object's constructor

    def functions(self) -> Iterator[tuple[str, Function]]:
        """Every function, as `Object.function` (`Vibevoice.ci`, `SupplyChain.audit`, ...)."""
        for object_name, functions in self.objects.items():
            for name, function in functions.items():
                if name:
                    yield f"{object_name}.{name}", function


@dataclass(repr=False)
class Call:
    """One function call and everything the engine ran for it (the CLI's evaluation of its result
    included: a returned container is synced, a directory exported)."""

    path: str  # "supply_chain audit"
    function: Function
    result: Any = None
    error: str = ""
    execs: list[Exec] = field(default_factory=list[Exec])
    pulls: list[str] = field(default_factory=list[str])
    builds: list[Build] = field(default_factory=list[Build])
    publishes: list[Publish] = field(default_factory=list[Publish])
    services: list[str] = field(default_factory=list[str])  # run, as bindings or started
    started: list[str] = field(default_factory=list[str])  # started by the function itself
    plaintext_reads: list[str] = field(default_factory=list[str])  # secret names
    seen: set[str] = field(default_factory=set[str])

    def __repr__(self) -> str:
        return f"<Call {self.path!r}: {len(self.execs)} execs, {len(self.images)} images>"

    @property
    def downloads(self) -> list[str]:
        return [url for build in self.builds for url in build.downloads]

    @property
    def images(self) -> list[str]:
        """Every image reference it pulled: by `from`, and by the Dockerfiles it built."""
        return [*self.pulls, *(reference for build in self.builds for reference in build.pulls)]


@dataclass
class Recording:
    registration: Registration
    calls: dict[str, Call]
    secrets: Mapping[str, str]  # every secret set in the session: name -> plaintext

    def __repr__(self) -> str:
        return f"<Recording of {len(self.calls)} calls of {self.registration.main}>"

    def execs(self) -> Iterator[tuple[str, Exec]]:
        for path, call in self.calls.items():
            for run in call.execs:
                yield path, run
