"""The engine's GraphQL schema, as the installed SDK's generated client describes it.

The SDK fetches the schema by introspection when it connects and builds every query against it, so
a stand-in must serve one. No copy of the engine's schema is kept here: it is read from the SDK's
own generated client (`dagger/client/gen.py`), which is the schema written out as Python. Each class
is a type (an object, an input, an enum, a scalar; a `_XClient` class an interface), each public
method a field: the GraphQL field name is the string it selects, its arguments the `Arg(name,
value)` pairs with the Python parameter's annotation, its type the method's return annotation.
An object given as an argument travels as its ID (`source: Directory` is `source: DirectoryID!`).
"""

from __future__ import annotations

import ast
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

import dagger.client.gen
import graphql

_BUILTINS = {"str": "String", "int": "Int", "float": "Float", "bool": "Boolean"}
_INTERFACE = re.compile(r"_(?P<name>\w+)Client")


@dataclass
class _Type:
    kind: str  # "type", "interface", "input", "enum", "scalar"
    name: str
    lines: list[str] = field(default_factory=list[str])


def _names(node: ast.expr) -> list[str]:
    """The base class names of a class definition's base expression."""
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Attribute):
        return [node.attr]
    return []


def _annotation(node: ast.expr | None) -> str:
    """An annotation as text, string annotations unquoted."""
    if node is None:
        return ""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return ast.unparse(node).replace("'", "").replace('"', "")


class _Schema:
    def __init__(self, tree: ast.Module) -> None:
        self.classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
        self.objects = {name for name, node in self.classes.items() if self._base(node) == "Type"}
        self.interfaces = {
            match["name"]: name for name in self.objects if (match := _INTERFACE.fullmatch(name))
        }
        self.objects -= set(self.interfaces.values())
        self.objects -= {"Query"}

    @staticmethod
    def _base(node: ast.ClassDef) -> str:
        bases = [name for base in node.bases for name in _names(base)]
        return bases[0] if bases else ""

    def graphql_type(self, annotation: str, owner: str, *, argument: bool) -> str:
        """The GraphQL type of a Python annotation (an argument's object is its ID)."""
        text = annotation.strip()
        nullable = False
        if text.endswith("| None"):
            text, nullable = text.removesuffix("| None").strip(), True
        if text.startswith("list[") and text.endswith("]"):
            inner = self.graphql_type(text[5:-1], owner, argument=argument)
            named = f"[{inner}]"
        elif text in _BUILTINS:
            named = _BUILTINS[text]
        elif text == "Self":
            named = f"{owner}ID" if argument else owner
        elif text == "Type":
            named = "ID"
        elif text in self.objects or text in self.interfaces or text == "Node":
            named = f"{text}ID" if argument else text
        else:
            named = text
        return named if nullable else f"{named}!"

    def fields(self, node: ast.ClassDef, owner: str) -> list[str]:
        lines: list[str] = []
        for method in node.body:
            if not isinstance(method, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            found = self._selected(method)
            if found is None:
                continue
            selected, synced = found
            parameters = {arg.arg: _annotation(arg.annotation) for arg in method.args.args}
            parameters |= {arg.arg: _annotation(arg.annotation) for arg in method.args.kwonlyargs}
            arguments = [
                f"{name}: {self.graphql_type(parameters[python], owner, argument=True)}"
                for name, python in self._arguments(method, set(parameters))
            ]
            returned = _annotation(method.returns)
            if selected == "id" and owner != "Query":
                type_ = "ID!"  # every object is a Node; its ID scalar is what arguments take
            elif synced:  # sync, start, stop, ...: evaluated, then loaded again by the ID returned
                type_ = f"{owner}ID!"
            elif returned in ("None", "Void | None", ""):
                type_ = "Void"
            else:
                type_ = self.graphql_type(returned, owner, argument=False)
            signature = f"({', '.join(arguments)})" if arguments else ""
            lines.append(f"  {selected}{signature}: {type_}")
        return lines

    @staticmethod
    def _selected(method: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[str, bool] | None:
        """The field a method selects (`self._select("x", ...)`), and whether it is one that returns
        the object's ID (`execute_sync(self, "x", ...)`)."""
        for node in ast.walk(method):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            name = node.func.attr
            strings = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            if name in ("_select", "execute_sync") and strings:
                return strings[0], name == "execute_sync"
        return None

    @staticmethod
    def _arguments(
        method: ast.FunctionDef | ast.AsyncFunctionDef, parameters: set[str]
    ) -> list[tuple[str, str]]:
        """(GraphQL name, Python parameter) of each `Arg(name, value)` the method builds (the value
        may be an expression of the parameter, `[] if ignore is None else ignore`)."""
        found: list[tuple[str, str]] = []
        for node in ast.walk(method):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Arg":
                name = node.args[0]
                used = [
                    n.id for n in ast.walk(node.args[1]) if isinstance(n, ast.Name) and n.id in parameters
                ]
                if isinstance(name, ast.Constant) and used:
                    found.append((str(name.value), used[0]))
        return found

    def sdl(self) -> str:
        types: list[_Type] = [_Type("interface", "Node", ["  id: ID!"])]
        for name, node in self.classes.items():
            base = self._base(node)
            if base == "Scalar":
                types.append(_Type("scalar", name))
            elif base == "Enum":
                members = [
                    target.id
                    for statement in node.body
                    if isinstance(statement, ast.Assign)
                    for target in statement.targets
                    if isinstance(target, ast.Name)
                ]
                types.append(_Type("enum", name, [f"  {member}" for member in members]))
            elif base == "Input":
                inputs = [
                    f"  {statement.target.id}: "
                    + self.graphql_type(_annotation(statement.annotation), name, argument=True)
                    for statement in node.body
                    if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name)
                ]
                types.append(_Type("input", name, inputs))
            elif name == "Query":
                types.append(_Type("type", "Query", self.fields(node, "Query")))
            elif name in self.objects:
                types.append(_Type("type", name, self.fields(node, name)))
        for interface, client in self.interfaces.items():
            if interface != "Node":
                types.append(_Type("interface", interface, self.fields(self.classes[client], interface)))
        blocks: list[str] = []
        for type_ in types:
            if type_.kind == "scalar":
                blocks.append(f"scalar {type_.name}")
            elif type_.lines:
                implements = " implements Node" if type_.kind == "type" and type_.name != "Query" else ""
                blocks.append(f"{type_.kind} {type_.name}{implements} {{\n" + "\n".join(type_.lines) + "\n}")
        return "\n\n".join(blocks) + "\n"


@functools.cache
def schema() -> graphql.GraphQLSchema:
    """The engine's schema as the installed SDK knows it."""
    tree = ast.parse(Path(dagger.client.gen.__file__).read_text(encoding="utf-8"))
    return graphql.build_schema(_Schema(tree).sdl(), assume_valid_sdl=True)
