"""Reading back the query a Dagger object stands for, without an engine.

The SDK builds queries lazily: each chained call (`from_`, `with_exec`, `docker_build`, ...) appends
one field selection, with its arguments, to the object's context, and nothing is sent until a
terminal call (`sync`, `stdout`, `publish`) is awaited. So the chain a function returns can be read
offline: which calls, in which order, with which arguments. Objects passed as arguments (a Service
to bind, a CacheVolume, a Secret) stay objects, and their own chains can be read the same way.
What this cannot see is anything the engine decides: whether a Dockerfile target exists, what an
image contains, whether an exec succeeds.
"""

# The selections live in the SDK's private query context; this module is the one place reading them.
# pyright: reportPrivateUsage=false

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dagger.client.base import Type


@dataclass(frozen=True)
class Call:
    """One selection: the GraphQL type it is on, the field, and the arguments given."""

    on: str
    field: str
    args: dict[str, Any]


def chain(obj: Type) -> list[Call]:
    """Every selection of `obj`'s query, root first."""
    return [
        Call(selection.type_name, selection.name, dict(selection.args)) for selection in obj._ctx.selections
    ]


def fields(obj: Type) -> list[str]:
    """The field names of `obj`'s query, root first."""
    return [call.field for call in chain(obj)]


def args_of(obj: Type, field: str) -> list[dict[str, Any]]:
    """The arguments of every `field` selection in `obj`'s query, in order."""
    return [call.args for call in chain(obj) if call.field == field]


def only(obj: Type, field: str) -> dict[str, Any]:
    """The arguments of the one `field` selection in `obj`'s query."""
    found = args_of(obj, field)
    assert len(found) == 1, f"expected one {field}, found {len(found)} in {fields(obj)}"
    return found[0]


def execs(obj: Type) -> list[list[str]]:
    """The argument lists of every `withExec`, in order."""
    return [list(args["args"]) for args in args_of(obj, "withExec")]
