"""Every function of the module, run through the stand-in engine as `dagger call` would run it.

`record(...)` registers the module (the SDK's own registration, read back from the type definitions
it sends), calls the constructor with the repository as the `source` its `DefaultPath` names, then
calls every function the registration lists: each function of the main object, and each function
of every object a main function returns. The arguments are what a user would give (`SAMPLES`, by
argument name, and the repository for every `DefaultPath`); the result is then evaluated as the CLI
does it (a container synced, a directory exported, a service started). Nothing is listed by hand:
a new function is run, and recorded, the day it is registered.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from recording_engine.engine import Engine
from recording_engine.objects import ContainerState, FileEntry, Image, Tree
from recording_engine.recording import Argument, Call, Function, Recording
from recording_engine.schema import schema
from recording_engine.server import Session, session

ROOT = Path(__file__).resolve().parents[3]
SHA = "0123456789abcdef0123456789abcdef01234567"
DIGEST = "sha256:" + "ab" * 32
# Secrets a user passes (`--password env://...`); their values must never show anywhere else.
SECRETS = {
    "password": ("registry-password", "registry-password-5ecret"),
    "token": ("github-token", "ghs_github-token-5ecret"),
    "oidc_request_token": ("request-token", "actions-request-token-5ecret"),
    "oidc_request_url": ("request-url", "https://actions.example/token?5ecret"),
}
# What a user passes for each argument that needs a value (by name, whichever function takes it).
VALUES: Mapping[str, Any] = {
    "service": "tts",
    "registry": "registry.example:5000",
    "repository": "owner/project",
    "github_repository": "owner/project",
    "username": "robot",
    "ref": "refs/tags/v1.2.3",  # a release: the CUDA image too
    "sha": SHA,
    "run_id": "42",
    "run_attempt": "1",
    "pull_request": 7,
    "refs": [
        f"registry.example:5000/owner/project/vibevoice-tts:1.2.3@{DIGEST}",
        f"registry.example:5000/owner/project/vibevoice-tts:1.2.3-cuda@sha256:{'cd' * 32}",
    ],
}


@dataclass(frozen=True)
class Settings:
    """One recording: the module's own arguments (`--mirror`, `--image`, ...) and the repository's
    files as changed for it (path -> new content), to see which steps a change reaches."""

    constructor: Mapping[str, Any] = field(default_factory=dict[str, Any])
    edits: Mapping[str, str] = field(default_factory=dict[str, str])


def _objects(engine: Engine) -> dict[tuple[str, str], str]:
    """The objects a user passes, by (argument name, type); "" names any argument of that type."""
    made = {(name, "Secret"): engine.secret(*secret).id for name, secret in SECRETS.items()}
    results = {f"tts-http/{name}": "{}" for name in ("results.json", "baseline.json", "history.json")}
    results |= {"tts-http/comparison.json": '{"verdict": "pass"}', "tts-http/summary.md": "# tts-http\n"}
    made[("results", "Directory")] = engine.directory(_files(results), "directory", {}, None).id
    made[("cache", "Directory")] = engine.directory(
        _files({"http-v2/entry": "cached"}), "directory", {}, None
    ).id
    # an image built or pulled beforehand, e.g. `supply-chain scan --image=...`
    reference = "registry.example:5000/owner/project/vibevoice-tts:1.2.3"
    pulled = ContainerState(image=Image("pulled", reference))
    made[("", "Container")] = engine.new("Container", "from", {"address": reference}, None, pulled).id
    return made


def _files(contents: Mapping[str, str]) -> Tree:
    return Tree({path: FileEntry.of(text.encode()) for path, text in contents.items()})


def _given(engine: Engine, argument: Argument, objects: Mapping[tuple[str, str], str]) -> Any:
    """The value a user would give `argument`, or None to leave it to its default."""
    if argument.default_path:
        if argument.type_name == "GitRef":
            repository = engine.new("GitRepository", "git", {"url": str(ROOT)}, None)
            return engine.new("GitRef", "head", {}, repository).id
        return engine.host_directory(argument.default_path.lstrip("/") or ".", argument.ignore).id
    if argument.kind == "OBJECT_KIND":
        found = objects.get((argument.name, argument.type_name)) or objects.get(("", argument.type_name))
        if found is None and not argument.optional:
            msg = f"no sample {argument.type_name} for the required argument {argument.name!r}"
            raise KeyError(msg)
        return found
    if argument.name in VALUES:
        return VALUES[argument.name]
    if not argument.optional and argument.default is None:
        msg = f"no sample value for the required argument {argument.name!r}: add one to harness.VALUES"
        raise KeyError(msg)
    return None


class _Caller:
    def __init__(self, running: Session, objects: Mapping[tuple[str, str], str]) -> None:
        self.session, self.objects = running, objects

    def inputs(self, function: Function, given: Mapping[str, Any] | None) -> dict[str, str]:
        """The arguments of a call: `given` (the constructor's), else what a user would pass."""
        values: dict[str, str] = {}
        for argument in function.arguments:
            if given is not None:
                value = given.get(argument.name)
                if value is None and argument.default_path:
                    value = _given(self.session.engine, argument, self.objects)
            else:
                value = _given(self.session.engine, argument, self.objects)
            if value is not None:
                values[argument.name] = json.dumps(value)
        return values

    def call(
        self,
        path: str,
        function: Function,
        parent_name: str,
        state: Any,
        given: Mapping[str, Any] | None = None,
    ) -> Call:
        record = Call(path, function)
        parent = json.dumps(state) if state is not None else "{}"
        self.session.invoke(record, parent_name, function.name, parent, self.inputs(function, given))
        self.evaluate(record)
        return record

    def evaluate(self, record: Call) -> None:
        """What the CLI does with a result: sync a container, export a directory, start a service."""
        engine, result = self.session.engine, record.result
        if record.error or result is None:
            return
        ids: list[Any] = cast("list[Any]", result) if isinstance(result, list) else [result]
        with engine.lock:
            engine.call = record
            for ident in ids:
                if isinstance(ident, str) and ident in engine.objects:
                    engine.evaluate(engine.objects[ident])


def main_object() -> tuple[str, str]:
    """The module's name (dagger.json) and its main object's, the PascalCase of it."""
    name = str(json.loads((ROOT / "dagger.json").read_text(encoding="utf-8"))["name"])
    return name, "".join(part.capitalize() for part in name.replace("_", "-").split("-"))


def record(
    settings: Settings | None = None,
    *,
    only: Callable[[str], bool] = lambda path: True,
    log_dir: Path | None = None,
) -> Recording:
    """Run every function of the module (or those whose path `only` accepts, e.g.
    "supply_chain audit") through the stand-in engine and return what it recorded."""
    settings = settings or Settings()
    engine = Engine(ROOT, settings.edits)
    engine.schema = schema()
    module, main_name = main_object()
    log = Path(tempfile.mkdtemp(prefix="recording-")) if log_dir is None else log_dir
    with session(engine, main_name, module, log / "runtime.log") as running:
        registering = Call("", Function("", "", "", False, (), ""))
        running.invoke(registering, "", "", "{}", {})
        if registering.error:
            raise RuntimeError(f"the module did not register:\n{registering.error}")
        registration = engine.registration(str(registering.result), main_name)
        caller = _Caller(running, _objects(engine))
        main = registration.objects[main_name]
        constructed = caller.call("", main[""], main_name, None, settings.constructor)
        if constructed.error:
            raise RuntimeError(f"the constructor failed:\n{constructed.error}")
        calls: dict[str, Call] = {}
        for name, function in main.items():
            members = {m: f for m, f in registration.objects.get(function.returns, {}).items() if m}
            wanted = [member for member in members if only(f"{name} {member}")]
            if not name or not (only(name) or wanted):
                continue
            made = calls[name] = caller.call(name, function, main_name, constructed.result)
            for member in wanted if not made.error else ():
                path = f"{name} {member}"
                calls[path] = caller.call(path, members[member], function.returns, made.result)
    return Recording(registration, calls, dict(engine.secrets))
