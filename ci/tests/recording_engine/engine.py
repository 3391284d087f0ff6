"""The stand-in engine: it answers the API's fields, keeps the objects, records what runs.

Each field of the schema resolves here (`resolve`). A field that makes an object makes one with a
key (objects.py); a field that reads a value (`stdout`, `sync`, `contents`, `publish`, ...) makes
the engine "run" everything the object stands on, and that is what gets recorded for the current
call: each exec with its user, environment, secrets, mounts and inputs, each image pulled, each
Dockerfile build with its arguments, each publish and service. Commands run nowhere; their output
is tools.py's.
"""

# graphql-core's resolvers and type predicates are typed with bare generics.
# pyright: reportUnknownMemberType=false, reportUnknownVariableType=false, reportUnknownArgumentType=false

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import graphql

from recording_engine import dockerfile, tools
from recording_engine.objects import (
    Build,
    ContainerState,
    Exec,
    FileEntry,
    Image,
    Obj,
    Publish,
    Tree,
    digest,
)
from recording_engine.recording import Argument, Call, Function, Registration

DEFAULT_PLATFORM = "linux/amd64"
Handler = Callable[["Engine", Obj, dict[str, Any]], Any]
HANDLERS: dict[tuple[str, str], Handler] = {}


def handles(type_name: str, *fields: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        for name in fields:
            HANDLERS[(type_name, name)] = handler
        return handler

    return register


def _pattern(pattern: str) -> re.Pattern[str]:
    """A .dockerignore-style pattern (what Dagger's `Ignore` takes) as a regular expression."""
    text, out, index = pattern.strip().strip("/"), "", 0
    while index < len(text):
        if text.startswith("**/", index):
            out, index = out + "(?:.*/)?", index + 3
        elif text.startswith("**", index):
            out, index = out + ".*", index + 2
        elif text[index] == "*":
            out, index = out + "[^/]*", index + 1
        elif text[index] == "?":
            out, index = out + "[^/]", index + 1
        else:
            out, index = out + re.escape(text[index]), index + 1
    return re.compile(out)


def _excluded(path: str, exclude: Sequence[str], include: Sequence[str]) -> bool:
    """Whether `path` (or a folder above it) is excluded, the last matching pattern deciding."""
    prefixes = [path] + ["/".join(path.split("/")[:n]) for n in range(1, path.count("/") + 1)]
    verdict = False
    for raw in exclude:
        negated = raw.startswith("!")
        if any(_pattern(raw.removeprefix("!")).fullmatch(prefix) for prefix in prefixes):
            verdict = not negated
    if include and not any(_pattern(p).fullmatch(q) for p in include for q in prefixes):
        return True
    return verdict


class Engine:
    """Objects by ID, the secrets set, the call being recorded, and the repository as the host."""

    def __init__(self, host: Path, edits: Mapping[str, str] | None = None) -> None:
        self.host = host
        self.edits = {path: text.encode() for path, text in (edits or {}).items()}
        self.objects: dict[str, Obj] = {}
        self.secrets: dict[str, str] = {}
        self.lock = threading.RLock()
        self.root = Obj("", "Query", "", "", {}, ())
        self.call: Call | None = None
        self.current: tuple[str, str, str, dict[str, str]] = ("", "", "{}", {})
        self.returned: str | None = None
        self.schema: graphql.GraphQLSchema | None = None

    # -- objects ----------------------------------------------------------------------------------

    def new(
        self,
        type_name: str,
        op: str,
        args: dict[str, Any],
        parent: Obj | None,
        state: Any = None,
        *,
        key: str | None = None,
        extra: Sequence[Obj] = (),
    ) -> Obj:
        """An object made by `op` on `parent` with `args`; one with the same key is the same object."""
        inputs = tuple(
            dict.fromkeys(
                ([parent] if parent is not None and parent.id else []) + _objects(args) + list(extra)
            )
        )
        # The ID is how it was made (what the engine runs to get it); the key is what its cache would
        # key it by (a directory's or a file's content), so two equal files stay two objects.
        made = digest(
            type_name,
            op,
            parent.id if parent else "",
            _replaced(args, lambda obj: obj.id),
            [o.id for o in extra],
            key,
        )
        key = key or digest(type_name, op, parent.key if parent else "", _plain(args))
        ident = f"{type_name}:{made[:40]}"
        if ident not in self.objects:
            self.objects[ident] = Obj(ident, type_name, key, op, args, inputs, state, parent=parent)
        return self.objects[ident]

    def load(self, ident: str) -> Obj:
        try:
            return self.objects[ident]
        except KeyError:
            raise graphql.GraphQLError(f"no object with ID {ident!r}") from None

    def tree(self, obj: Obj) -> Tree:
        if not isinstance(obj.state, Tree):
            raise graphql.GraphQLError(f"{obj.type} {obj.id} has no files")
        return obj.state

    def host_directory(
        self, path: str = ".", exclude: Sequence[str] = (), include: Sequence[str] = ()
    ) -> Obj:
        """A directory of the repository, as the engine loads a `DefaultPath` argument."""
        base = (self.host / path).resolve()
        files: dict[str, FileEntry] = {}
        for folder, directories, names in os.walk(base):
            relative = Path(folder).relative_to(base).as_posix()
            prefix = "" if relative == "." else relative + "/"
            directories[:] = [
                d for d in directories if not _excluded(prefix + d, exclude, include) or include
            ]
            for name in names:
                inside = prefix + name
                if _excluded(inside, exclude, include) or (Path(folder) / name).is_symlink():
                    continue
                origin = (base / inside).relative_to(self.host).as_posix()
                data = self.edits.get(origin) or (Path(folder) / name).read_bytes()
                files[inside] = FileEntry.of(data, origin)
        tree = Tree(files)
        args = {"path": path, "exclude": list(exclude), "include": list(include)}
        return self.new("Directory", "hostDirectory", args, None, tree, key=tree.key)

    def directory(self, tree: Tree, op: str, args: dict[str, Any], parent: Obj | None) -> Obj:
        return self.new("Directory", op, args, parent, tree, key=tree.key)

    def file(self, entry: FileEntry, op: str, args: dict[str, Any], parent: Obj | None) -> Obj:
        return self.new("File", op, args, parent, entry, key=entry.digest)

    def secret(self, name: str, plaintext: str) -> Obj:
        self.secrets[name] = plaintext
        return self.new(
            "Secret", "setSecret", {"name": name}, None, name, key=digest("secret", name, plaintext)
        )

    # -- running ----------------------------------------------------------------------------------

    def evaluate(self, obj: Obj) -> None:
        """Run what `obj` stands on (once per call), recording it in the current call."""
        call = self.call
        if call is None:
            return
        pending: list[tuple[Obj, bool]] = [(obj, False)]
        while pending:
            current, expanded = pending.pop()
            if current.id in call.seen:
                continue
            if not expanded:
                pending.append((current, True))
                pending.extend(
                    (child, False) for child in reversed(current.inputs) if child.id not in call.seen
                )
                continue
            call.seen.add(current.id)
            if current.pull:
                call.pulls.append(current.pull)
            if current.build is not None:
                call.builds.append(current.build)
            if current.exec is not None:
                call.execs.append(current.exec)
            if current.type == "Service" and current.op == "asService":
                call.services.append(current.id)

    def reads(self, obj: Obj) -> frozenset[str]:
        """The repository files whose content reaches `obj`: a directory or a file carries its own
        content (not the directory it was taken from); a container what was put into it, what it
        stands on and the services it is bound to."""
        found: set[str] = set()
        seen: set[str] = set()
        pending = [obj]
        while pending:
            current = pending.pop()
            if current.id in seen:
                continue
            seen.add(current.id)
            content = isinstance(current.state, Tree | FileEntry)
            if isinstance(current.state, Tree):
                found |= current.state.origins
            elif isinstance(current.state, FileEntry) and current.state.origin:
                found.add(current.state.origin)
            pending.extend(child for child in current.inputs if not (content and _has_content(child)))
        return frozenset(found)

    # -- GraphQL ----------------------------------------------------------------------------------

    def resolve(self, value: Any, info: Any, /, **arguments: Any) -> Any:
        """Every field of the schema: a handler's answer, a new object, or a plausible value."""
        with self.lock:
            parent = value if isinstance(value, Obj) else self.root
            definition = info.parent_type.fields[info.field_name]
            args = {
                name: self._argument(given, definition.args[name].type) for name, given in arguments.items()
            }
            handler = HANDLERS.get((info.parent_type.name, info.field_name))
            if handler is not None:
                return handler(self, parent, args)
            if info.field_name == "id":
                return parent.id
            if info.field_name.startswith("load") and info.field_name.endswith("FromID"):
                return args["id"]
            named = graphql.get_named_type(info.return_type)
            if graphql.is_leaf_type(named):
                self.evaluate(parent)
                return _plausible(info.return_type, parent)
            return self._derive(parent, info.field_name, args, named.name)

    def _argument(self, value: Any, type_: Any) -> Any:
        named = graphql.get_named_type(type_)
        if value is None:
            return None
        if isinstance(named, graphql.GraphQLScalarType) and named.name.endswith("ID"):
            items: list[str] = value if isinstance(value, list) else []
            return [self.load(item) for item in items] if isinstance(value, list) else self.load(value)
        if hasattr(value, "name") and not isinstance(value, str | dict | list):
            return value.name  # an enum member
        return value

    def _derive(self, parent: Obj, field: str, args: dict[str, Any], type_name: str) -> Obj:
        """An object no handler describes: a container or directory keeps its state, with a new key."""
        if type_name == parent.type == "Container":
            return self.new("Container", field, args, parent, parent.state.copy())
        if type_name == parent.type == "Directory":
            tree = self.tree(parent)
            changed = Tree(dict(tree.files), (*tree.opaque, digest(field, _plain(args))))
            return self.directory(changed, field, args, parent)
        return self.new(type_name, field, args, parent)

    # -- the registration -------------------------------------------------------------------------

    def registration(self, module_id: str, main: str) -> Registration:
        """The module's objects and functions, read back from the type definitions it registered."""
        objects: dict[str, dict[str, Function]] = {}
        for op, args in _history(self.load(module_id)):
            if op != "withObject":
                continue
            definition = args["object"]
            name, functions = "", {}
            for type_op, type_args in _history(definition):
                if type_op == "withObject":
                    name = type_args["name"]
                elif type_op in ("withFunction", "withConstructor"):
                    function = _function(type_args["function"])
                    functions["" if type_op == "withConstructor" else function.name] = function
            objects[name] = functions
        return Registration(main, objects)


# -- helpers ----------------------------------------------------------------------------------------


def _items(value: Any) -> list[Any]:
    """The values inside an argument (an input object's fields, a list's items)."""
    if isinstance(value, dict):
        return list(cast("dict[str, Any]", value).values())
    if isinstance(value, list | tuple):
        return list(cast("Sequence[Any]", value))
    return []


def _objects(value: Any) -> list[Obj]:
    """The objects an argument names."""
    if isinstance(value, Obj):
        return [value]
    return [obj for item in _items(value) for obj in _objects(item)]


def _replaced(value: Any, by: Callable[[Obj], str]) -> Any:
    """An argument with each object replaced by `by(object)` (its ID, or its key)."""
    if isinstance(value, Obj):
        return by(value)
    if isinstance(value, dict):
        return {key: _replaced(item, by) for key, item in cast("dict[str, Any]", value).items()}
    if isinstance(value, list | tuple):
        return [_replaced(item, by) for item in _items(value)]
    return value


def _plain(value: Any) -> Any:
    """An argument with each object replaced by its key (what a cache would key it by)."""
    return _replaced(value, lambda obj: obj.key)


def _history(obj: Obj) -> list[tuple[str, dict[str, Any]]]:
    chain: list[tuple[str, dict[str, Any]]] = []
    current: Obj | None = obj
    while current is not None and current.id:
        chain.append((current.op, current.args))
        current = current.parent
    return chain[::-1]


def _type_name(type_def: Obj) -> tuple[str, str, bool]:
    """(kind, object name, optional) of a registered type definition."""
    kind, name, optional = "", "", False
    for op, args in _history(type_def):
        if op == "withOptional":
            optional = bool(args.get("optional"))
        elif op == "withKind":
            kind = str(args["kind"])
        elif op in ("withObject", "withInterface", "withEnum", "withScalar"):
            kind, name = op.removeprefix("with").upper() + "_KIND", str(args["name"])
        elif op == "withListOf":
            kind, name = "LIST_KIND", _type_name(args["elementType"])[1] or _type_name(args["elementType"])[0]
    return kind, name, optional


def _function(definition: Obj) -> Function:
    name, returns, cache, check, doc = "", "", "", False, ""
    arguments: list[Argument] = []
    for op, args in _history(definition):
        if op == "function":
            name = args["name"]
            kind, object_name, _ = _type_name(args["returnType"])
            returns = object_name or kind
        elif op == "withDescription":
            doc = args["description"]
        elif op == "withCachePolicy":
            cache = args.get("timeToLive") or str(args["policy"])
        elif op == "withCheck":
            check = True
        elif op == "withArg":
            kind, object_name, optional = _type_name(args["typeDef"])
            arguments.append(
                Argument(
                    name=args["name"],
                    kind=kind,
                    type_name=object_name,
                    optional=optional,
                    default_path=args.get("defaultPath") or "",
                    ignore=tuple(args.get("ignore") or ()),
                    default=args.get("defaultValue"),
                    doc=args.get("description") or "",
                )
            )
    return Function(name, returns, cache, check, tuple(arguments), doc)


def _plausible(type_: Any, parent: Obj) -> Any:
    """A value of `type_` for a field no handler answers (a scalar ID is the object's own)."""
    nullable = not isinstance(type_, graphql.GraphQLNonNull)
    inner: Any = type_ if nullable else type_.of_type
    if isinstance(inner, graphql.GraphQLList):
        return []
    name = graphql.get_named_type(inner).name
    if name.endswith("ID"):
        return parent.id
    defaults: dict[str, Any] = {"String": "", "Boolean": True, "Int": 0, "Float": 0.0, "JSON": "null"}
    if name == "Platform":
        return DEFAULT_PLATFORM
    return defaults.get(name) if name in defaults or nullable else ""


def _has_content(obj: Obj) -> bool:
    return isinstance(obj.state, Tree | FileEntry)


def _container(parent: Obj) -> ContainerState:
    state = parent.state
    if not isinstance(state, ContainerState):
        raise graphql.GraphQLError(f"{parent.type} is not a container")
    return state


# -- the root ---------------------------------------------------------------------------------------


@handles("Query", "container")
def _query_container(engine: Engine, parent: Obj, args: dict[str, Any]) -> Obj:
    return engine.new(
        "Container", "container", args, None, ContainerState(platform=args.get("platform") or "")
    )


@handles("Query", "directory")
def _query_directory(engine: Engine, parent: Obj, args: dict[str, Any]) -> Obj:
    return engine.directory(Tree(), "directory", {}, None)


@handles("Query", "node")
def _query_node(engine: Engine, parent: Obj, args: dict[str, Any]) -> Obj:
    return args["id"]


@handles("Query", "defaultPlatform")
def _query_default_platform(engine: Engine, parent: Obj, args: dict[str, Any]) -> str:
    return DEFAULT_PLATFORM


@handles("Query", "setSecret")
def _query_set_secret(engine: Engine, parent: Obj, args: dict[str, Any]) -> Obj:
    return engine.secret(args["name"], args["plaintext"])


@handles("Query", "cacheVolume")
def _query_cache_volume(engine: Engine, parent: Obj, args: dict[str, Any]) -> Obj:
    return engine.new("CacheVolume", "cacheVolume", args, None, args["key"])


@handles("Host", "directory")
def _host_directory(engine: Engine, parent: Obj, args: dict[str, Any]) -> Obj:
    return engine.host_directory(args["path"], args.get("exclude") or (), args.get("include") or ())


@handles("GitRef", "tree")
def _git_tree(engine: Engine, parent: Obj, args: dict[str, Any]) -> Obj:
    return engine.directory(Tree({}, (digest("git", parent.key, _plain(args)),)), "tree", args, parent)


# -- the call -------------------------------------------------------------------------------------------


HANDLERS[("FunctionCall", "parentName")] = lambda engine, parent, args: engine.current[0]
HANDLERS[("FunctionCall", "name")] = lambda engine, parent, args: engine.current[1]
HANDLERS[("FunctionCall", "parent")] = lambda engine, parent, args: engine.current[2]


@handles("FunctionCall", "inputArgs")
def _input_args(engine: Engine, parent: Obj, args: dict[str, Any]) -> list[Obj]:
    return [
        engine.new("FunctionCallArgValue", "inputArg", {"name": name, "value": value}, parent, (name, value))
        for name, value in engine.current[3].items()
    ]


HANDLERS[("FunctionCallArgValue", "name")] = lambda engine, parent, args: parent.state[0]
HANDLERS[("FunctionCallArgValue", "value")] = lambda engine, parent, args: parent.state[1]


@handles("FunctionCall", "returnValue")
def _return_value(engine: Engine, parent: Obj, args: dict[str, Any]) -> None:
    engine.returned = args["value"]


@handles("Secret", "plaintext")
def _plaintext(engine: Engine, parent: Obj, args: dict[str, Any]) -> str:
    if engine.call is not None:
        engine.call.plaintext_reads.append(str(parent.state))
    return engine.secrets.get(str(parent.state), "")


# -- directories and files ------------------------------------------------------------------------------


@handles("Directory", "withNewFile")
def _dir_new_file(engine: Engine, parent: Obj, args: dict[str, Any]) -> Obj:
    tree = engine.tree(parent)
    files = {**tree.files, args["path"].strip("/"): FileEntry.of(args["contents"].encode())}
    return engine.directory(Tree(files, tree.opaque), "withNewFile", args, parent)


@handles("Directory", "withFile")
def _dir_file(engine: Engine, parent: Obj, args: dict[str, Any]) -> Obj:
    tree, source = engine.tree(parent), args["source"]
    files = {**tree.files, args["path"].strip("/"): source.state}
    return engine.new(
        "Directory", "withFile", args, parent, Tree(files, tree.opaque), key=Tree(files, tree.opaque).key
    )


@handles("Directory", "withDirectory")
def _dir_directory(engine: Engine, parent: Obj, args: dict[str, Any]) -> Obj:
    source = engine.tree(args["source"])
    filtered = Tree(
        {
            path: entry
            for path, entry in source.files.items()
            if not _excluded(path, args.get("exclude") or (), args.get("include") or ())
        },
        source.opaque,
    )
    tree = engine.tree(parent).merged(filtered.placed(args["path"]))
    return engine.directory(tree, "withDirectory", args, parent)


@handles("Directory", "directory")
def _dir_subdirectory(engine: Engine, parent: Obj, args: dict[str, Any]) -> Obj:
    return engine.directory(engine.tree(parent).under(args["path"]), "directory", args, parent)


@handles("Directory", "filter")
def _dir_filter(engine: Engine, parent: Obj, args: dict[str, Any]) -> Obj:
    tree = engine.tree(parent)
    kept = {
        path: entry
        for path, entry in tree.files.items()
        if not _excluded(path, args.get("exclude") or (), args.get("include") or ())
    }
    return engine.directory(Tree(kept, tree.opaque), "filter", args, parent)


@handles("Directory", "file")
def _dir_file_of(engine: Engine, parent: Obj, args: dict[str, Any]) -> Obj:
    tree, path = engine.tree(parent), args["path"].strip("/")
    if path in tree.files:
        return engine.file(tree.files[path], "file", args, parent)
    if tree.opaque:
        return engine.file(FileEntry(digest(tree.key, path)), "file", args, parent)
    raise graphql.GraphQLError(f"{path}: no such file or directory")


@handles("Directory", "entries")
def _dir_entries(engine: Engine, parent: Obj, args: dict[str, Any]) -> list[str]:
    engine.evaluate(parent)
    return engine.tree(parent).entries(args.get("path") or "")


@handles("File", "contents")
def _file_contents(engine: Engine, parent: Obj, args: dict[str, Any]) -> str:
    engine.evaluate(parent)
    data = parent.state.data if isinstance(parent.state, FileEntry) else None
    return (data or b"").decode()


@handles("Directory", "dockerBuild")
def _docker_build(engine: Engine, parent: Obj, args: dict[str, Any]) -> Obj:
    tree = engine.tree(parent)
    name = args.get("dockerfile") or "Dockerfile"
    entry = tree.files.get(name)
    if entry is None or entry.data is None:
        raise graphql.GraphQLError(f"the build context has no {name}")
    given: list[dict[str, str]] = args.get("buildArgs") or []
    build_args = {item["name"]: item["value"] for item in given}
    try:
        target = dockerfile.read(entry.data.decode(), args.get("target") or "", build_args)
    except ValueError as error:
        raise graphql.GraphQLError(str(error)) from None
    platform = args.get("platform") or ""
    image = Image(
        "built",
        dockerfile=name,
        target=args.get("target") or "",
        user=target.user,
        entrypoint=target.entrypoint,
        healthcheck=target.healthcheck,
    )
    obj = engine.new("Container", "dockerBuild", args, parent, ContainerState(image=image, platform=platform))
    obj.build = Build(
        obj.key,
        name,
        image.target,
        platform,
        build_args,
        target.pulls,
        target.downloads,
        tree.origins,
    )
    return obj


# -- containers -------------------------------------------------------------------------------------


def _with(engine: Engine, parent: Obj, op: str, args: dict[str, Any], **changes: Any) -> Obj:
    return engine.new("Container", op, args, parent, _container(parent).copy(**changes))


@handles("Container", "from")
def _from(engine: Engine, parent: Obj, args: dict[str, Any]) -> Obj:
    image = Image("pulled", args["address"])
    obj = _with(engine, parent, "from", args, image=image, user=None, entrypoint=None)
    obj.pull = args["address"]
    return obj


@handles("Container", "withUser")
def _with_user(engine: Engine, parent: Obj, args: dict[str, Any]) -> Obj:
    return _with(engine, parent, "withUser", args, user=args["name"])


@handles("Container", "withWorkdir")
def _with_workdir(engine: Engine, parent: Obj, args: dict[str, Any]) -> Obj:
    return _with(engine, parent, "withWorkdir", args, workdir=args["path"])


def _adding(op: str, field: str, entry: Callable[[dict[str, Any]], tuple[str, Any]]) -> Handler:
    """A `with*` field that adds one entry to one of the container's tables."""

    def handler(engine: Engine, parent: Obj, args: dict[str, Any]) -> Obj:
        key, value = entry(args)
        table: dict[str, Any] = getattr(_container(parent), field)
        return _with(engine, parent, op, args, **{field: {**table, key: value}})

    return handler


def _cache(args: dict[str, Any]) -> tuple[str, str]:
    return args["path"], f"cache:{args['cache'].state}:{args.get('sharing') or 'SHARED'}"


_TABLES: dict[str, tuple[str, Callable[[dict[str, Any]], tuple[str, Any]]]] = {
    "withEnvVariable": ("env", lambda args: (args["name"], args["value"])),
    "withSecretVariable": ("secret_env", lambda args: (args["name"], str(args["secret"].state))),
    "withMountedSecret": ("mounts", lambda args: (args["path"], f"secret:{args['source'].state}")),
    "withMountedCache": ("mounts", _cache),
    "withMountedTemp": ("mounts", lambda args: (args["path"], "temp")),
    "withDirectory": ("inputs", lambda args: (args["path"], args["source"])),
    "withMountedDirectory": ("inputs", lambda args: (args["path"], args["source"])),
    "withFile": ("inputs", lambda args: (args["path"], args["source"])),
    "withMountedFile": ("inputs", lambda args: (args["path"], args["source"])),
    "withServiceBinding": ("services", lambda args: (args["alias"], args["service"])),
    "withLabel": ("labels", lambda args: (args["name"], args["value"])),
    "withAnnotation": ("labels", lambda args: (args["name"], args["value"])),
}
for _op, (_field, _entry) in _TABLES.items():
    HANDLERS[("Container", _op)] = _adding(_op, _field, _entry)


@handles("Container", "withNewFile")
def _with_new_file(engine: Engine, parent: Obj, args: dict[str, Any]) -> Obj:
    state = _container(parent)
    made = engine.file(FileEntry.of(args["contents"].encode()), "newFile", {}, None)
    return _with(engine, parent, "withNewFile", args, inputs={**state.inputs, args["path"]: made})


@handles("Container", "withExec")
def _with_exec(engine: Engine, parent: Obj, args: dict[str, Any]) -> Obj:
    state = _container(parent)
    argv = list(args["args"])
    if args.get("useEntrypoint"):
        argv = [*(state.entrypoint if state.entrypoint is not None else state.image.entrypoint), *argv]
    result = tools.outcome(argv)
    written = {**state.written, **{path: text.encode() for path, text in result.writes.items()}}
    for redirect, text in (
        (args.get("redirectStdout"), result.stdout),
        (args.get("redirectStderr"), result.stderr),
    ):
        if redirect:
            written[redirect] = text.encode()
    after = state.copy(
        written=written, last=(result.stdout, result.stderr, result.exit_code), execs=state.execs + 1
    )
    obj = engine.new("Container", "withExec", args, parent, after)
    if obj.exec is None:
        obj.exec = Exec(
            key=obj.key,
            argv=tuple(argv),
            image=state.image,
            platform=state.platform or DEFAULT_PLATFORM,
            user=state.user,
            workdir=state.workdir,
            env=dict(state.env),
            secret_env=dict(state.secret_env),
            mounts=dict(state.mounts),
            inputs={path: source.key for path, source in state.inputs.items()},
            reads=engine.reads(parent),
            expect=str(args.get("expect") or "SUCCESS"),
            redirects=(args.get("redirectStdout") or "", args.get("redirectStderr") or ""),
            services=tuple(sorted(state.services)),
        )
    return obj


def _last(index: int) -> Handler:
    """The stdout (0), stderr (1) or exit code (2) of a container's last exec, once it has run."""

    def read(engine: Engine, parent: Obj, args: dict[str, Any]) -> Any:
        engine.evaluate(parent)
        return _container(parent).last[index]

    return read


HANDLERS[("Container", "stdout")] = _last(0)
HANDLERS[("Container", "stderr")] = _last(1)
HANDLERS[("Container", "exitCode")] = _last(2)


@handles("Container", "directory")
def _container_directory(engine: Engine, parent: Obj, args: dict[str, Any]) -> Obj:
    state, path = _container(parent), args["path"].rstrip("/")
    tree = Tree()
    for place, source in state.inputs.items():
        if isinstance(source.state, Tree) and (place == path or place.startswith(path + "/")):
            tree = tree.merged(source.state.placed(place.removeprefix(path).strip("/")))
    written = {
        name.removeprefix(path + "/"): FileEntry.of(data)
        for name, data in state.written.items()
        if name.startswith(path + "/")
    }
    opaque = (digest(parent.key, path),) if state.execs else ()
    result = Tree({**tree.files, **written}, tree.opaque + opaque)
    return engine.directory(result, "containerDirectory", args, parent)


@handles("Container", "file")
def _container_file(engine: Engine, parent: Obj, args: dict[str, Any]) -> Obj:
    state, path = _container(parent), args["path"]
    if path in state.written:
        return engine.file(FileEntry.of(state.written[path]), "containerFile", args, parent)
    source = state.inputs.get(path)
    if source is not None and isinstance(source.state, FileEntry) and not state.execs:
        return engine.file(source.state, "containerFile", args, parent)
    return engine.new("File", "containerFile", args, parent, FileEntry(digest(parent.key, path)))


@handles("Container", "asTarball")
def _as_tarball(engine: Engine, parent: Obj, args: dict[str, Any]) -> Obj:
    return engine.new("File", "asTarball", args, parent, FileEntry(digest(parent.key, "tarball")))


@handles("Container", "asService")
def _as_service(engine: Engine, parent: Obj, args: dict[str, Any]) -> Obj:
    return engine.new("Service", "asService", args, parent, parent)


@handles("Service", "start", "stop", "up")
def _service_start(engine: Engine, parent: Obj, args: dict[str, Any]) -> Any:
    engine.evaluate(parent)
    if engine.call is not None:
        engine.call.started.append(parent.id)
    return parent.id


@handles("Container", "sync")
def _sync(engine: Engine, parent: Obj, args: dict[str, Any]) -> str:
    engine.evaluate(parent)
    return parent.id


@handles("Container", "platform")
def _platform(engine: Engine, parent: Obj, args: dict[str, Any]) -> str:
    engine.evaluate(parent)
    return _container(parent).platform or DEFAULT_PLATFORM


@handles("Container", "user")
def _user(engine: Engine, parent: Obj, args: dict[str, Any]) -> str:
    state = _container(parent)
    return state.user if state.user is not None else state.image.user


@handles("Container", "entrypoint")
def _entrypoint(engine: Engine, parent: Obj, args: dict[str, Any]) -> list[str]:
    state = _container(parent)
    return list(state.entrypoint if state.entrypoint is not None else state.image.entrypoint)


@handles("Container", "withEntrypoint")
def _with_entrypoint(engine: Engine, parent: Obj, args: dict[str, Any]) -> Obj:
    return _with(engine, parent, "withEntrypoint", args, entrypoint=tuple(args["args"]))


@handles("Container", "dockerHealthcheck")
def _healthcheck(engine: Engine, parent: Obj, args: dict[str, Any]) -> Obj:
    return engine.new(
        "HealthcheckConfig", "dockerHealthcheck", args, parent, _container(parent).image.healthcheck
    )


HANDLERS[("HealthcheckConfig", "args")] = lambda engine, parent, args: list(parent.state[0])
HANDLERS[("HealthcheckConfig", "shell")] = lambda engine, parent, args: parent.state[1]


@handles("Container", "imageRef")
def _image_ref(engine: Engine, parent: Obj, args: dict[str, Any]) -> str:
    engine.evaluate(parent)
    reference = _container(parent).image.reference
    if not reference:
        raise graphql.GraphQLError("imageRef: the container was not pulled from a registry")
    if "@sha256:" in reference:
        return reference
    return f"{reference}@sha256:{hashlib.sha256(reference.encode()).hexdigest()}"


@handles("Container", "publish")
def _publish(engine: Engine, parent: Obj, args: dict[str, Any]) -> str:
    variants: list[Obj] = list(args.get("platformVariants") or []) or [parent]
    for variant in variants:
        engine.evaluate(variant)
    if args.get("registryService") is not None:
        engine.evaluate(args["registryService"])
    address = args["address"]
    published = f"{address}@sha256:{digest(address, [v.key for v in variants])}"
    if engine.call is not None:
        platforms = tuple(_container(variant).platform or DEFAULT_PLATFORM for variant in variants)
        engine.call.publishes.append(Publish(address, platforms, published))
    return published


def type_resolver(value: Any, info: Any, abstract: Any) -> str:
    """The concrete type of an object returned as an interface (`node(id:)`)."""
    return value.type if isinstance(value, Obj) else ""


def respond(engine: Engine, body: Mapping[str, Any]) -> dict[str, Any]:
    """Execute one GraphQL request against the schema, resolving every field in `engine`."""
    assert engine.schema is not None
    result = graphql.graphql_sync(
        engine.schema,
        body["query"],
        variable_values=body.get("variables"),
        operation_name=body.get("operationName"),
        field_resolver=engine.resolve,
        type_resolver=type_resolver,
    )
    out: dict[str, Any] = {"data": result.data}
    if result.errors:
        out["errors"] = [error.formatted for error in result.errors]
    return out
