"""What a `docker build` of one target reads from its Dockerfile: the stages it builds, the images
and downloads they fetch, and the user, entrypoint and HEALTHCHECK the image ends up with.

The stand-in engine builds nothing; it reads the Dockerfile from the build's context, as BuildKit
would, so a build's pulls (`FROM ${BASE_IMAGE}` with the build arguments given) and downloads (an
`ARG` holding a URL, in a stage the target needs) are recorded like the module's own pulls.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

_ARG = re.compile(r"ARG\s+(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:=(?P<value>\S*))?")
_FROM = re.compile(r"FROM\s+(?:--platform=\S+\s+)?(?P<image>\S+)(?:\s+AS\s+(?P<name>\S+))?", re.IGNORECASE)
_STAGE_REFERENCE = re.compile(r"--from=(?P<stage>[^\s,]+)|[\s,]from=(?P<mount>[^\s,]+)")
_VARIABLE = re.compile(r"\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)")


@dataclass
class Stage:
    name: str
    base: str  # resolved: an image reference or another stage's name
    args: dict[str, str] = field(default_factory=dict[str, str])  # ARGs declared in it, resolved
    fetched: list[str] = field(default_factory=list[str])  # those whose default is a URL: downloads
    user: str | None = None
    entrypoint: list[str] | None = None
    healthcheck: tuple[list[str], bool] | None = None  # (args, runs through a shell)
    needs: set[str] = field(default_factory=set[str])  # stages it copies or mounts from


@dataclass(frozen=True)
class Target:
    """A build of one target: what it pulls and downloads, and what its image says about itself."""

    pulls: tuple[str, ...]
    downloads: tuple[str, ...]
    user: str
    entrypoint: tuple[str, ...]
    healthcheck: tuple[tuple[str, ...], bool]


def _substitute(text: str, values: Mapping[str, str]) -> str:
    return _VARIABLE.sub(lambda m: values.get(m["braced"] or m["bare"], ""), text)


def _instructions(text: str) -> list[str]:
    joined = re.sub(r"\\\n", " ", text)
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.strip().startswith("#")]


def read(text: str, target: str, build_args: Mapping[str, str]) -> Target:
    """The build of `target` (empty: the last stage) with `build_args`."""
    global_args: dict[str, str] = {}
    stages: dict[str, Stage] = {}
    order: list[str] = []
    current: Stage | None = None
    for line in _instructions(text):
        keyword = line.split(None, 1)[0].upper()
        if keyword == "ARG" and (match := _ARG.match(line)):
            name, default = match["name"], match["value"]
            scope = global_args if current is None else {**global_args, **current.args}
            if name in build_args:
                value = build_args[name]
            else:  # an ARG without a default in a stage takes the global one
                value = _substitute(default, scope) if default is not None else global_args.get(name, "")
            (global_args if current is None else current.args)[name] = value
            if current is not None and default is not None and "://" in default:
                current.fetched.append(name)
        elif keyword == "FROM" and (match := _FROM.match(line)):
            name = match["name"] or f"stage-{len(order)}"
            current = Stage(name, _substitute(match["image"], global_args))
            stages[name] = current
            order.append(name)
        elif current is not None:
            _instruction(current, keyword, line, {**global_args, **current.args})
    wanted = target or order[-1]
    needed = _needed(stages, wanted)
    pulls = [stages[name].base for name in order if name in needed and stages[name].base not in stages]
    downloads = [stages[name].args[arg] for name in order if name in needed for arg in stages[name].fetched]
    chain = [stages[name] for name in _chain(stages, wanted)]
    user = next((stage.user for stage in chain if stage.user is not None), "")
    no_entrypoint: list[str] = []
    entrypoint = next((stage.entrypoint for stage in chain if stage.entrypoint is not None), no_entrypoint)
    no_healthcheck: tuple[list[str], bool] = ([], False)
    healthcheck = next(
        (stage.healthcheck for stage in chain if stage.healthcheck is not None), no_healthcheck
    )
    return Target(
        tuple(dict.fromkeys(pulls)),
        tuple(dict.fromkeys(downloads)),
        user,
        tuple(entrypoint),
        (tuple(healthcheck[0]), healthcheck[1]),
    )


def _instruction(stage: Stage, keyword: str, line: str, values: Mapping[str, str]) -> None:
    rest = line.split(None, 1)[1] if " " in line else ""
    if keyword == "USER":
        stage.user = _substitute(rest, values)
    elif keyword == "ENTRYPOINT":
        stage.entrypoint = json.loads(rest) if rest.startswith("[") else ["/bin/sh", "-c", rest]
    elif keyword == "HEALTHCHECK" and " CMD " in f" {rest} ":
        command = rest.split("CMD", 1)[1].strip()
        stage.healthcheck = (json.loads(command), False) if command.startswith("[") else ([command], True)
    for match in _STAGE_REFERENCE.finditer(line):
        stage.needs.add(_substitute(match["stage"] or match["mount"], values))


def _chain(stages: Mapping[str, Stage], name: str) -> list[str]:
    """`name` and the stages it stands on, nearest first."""
    chain: list[str] = []
    while name in stages and name not in chain:
        chain.append(name)
        name = stages[name].base
    return chain


def _needed(stages: Mapping[str, Stage], target: str) -> set[str]:
    if target not in stages:
        msg = f"the Dockerfile has no stage {target!r}"
        raise ValueError(msg)
    needed: set[str] = set()
    pending = [target]
    while pending:
        name = pending.pop()
        if name in needed or name not in stages:
            continue
        needed.add(name)
        pending += [stages[name].base, *stages[name].needs]
    return needed
