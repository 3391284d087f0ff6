"""Typed front for the SDK's `function` and `check` decorators.

dagger-io 0.21.11 accepts `cache=` in `function` at run time but its overloads omit it, and `check`
has no overloads (it is typed as returning a union of a function and a decorator). Both would fail
pyright at every use. These wrappers keep the SDK's names and call the SDK's own decorators, so the
engine sees exactly what the SDK registers; only the static types are ours.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar, cast, overload

import dagger

P = ParamSpec("P")
R = TypeVar("R")

_sdk_function: Callable[..., Any] = dagger.function
_sdk_check: Callable[..., Any] = dagger.check


@overload
def function(func: Callable[P, R], /) -> Callable[P, R]: ...


@overload
def function(
    *,
    name: str | None = None,
    doc: str | None = None,
    cache: str | None = None,
    deprecated: str | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def function(
    func: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    doc: str | None = None,
    cache: str | None = None,
    deprecated: str | None = None,
) -> Callable[P, R] | Callable[[Callable[P, R]], Callable[P, R]]:
    """Expose a method as a Dagger function.

    `cache` is the function's cache policy: "never" (side effects such as publishing), "session",
    or a time to live such as "10m"; None keeps the engine's default (cached by inputs).
    """
    if func is not None:
        return cast("Callable[P, R]", _sdk_function(func))
    decorate = _sdk_function(name=name, doc=doc, cache=cache, deprecated=deprecated)
    return cast("Callable[[Callable[P, R]], Callable[P, R]]", decorate)


def check(func: Callable[P, R], /) -> Callable[P, R]:
    """Mark a Dagger function as a check (`dagger check` runs it; it takes no required arguments)."""
    return cast("Callable[P, R]", _sdk_check(func))
