"""Typed access to parsed JSON: a value as an object or an array, empty when it is something else.

Reports and tool outputs are read defensively: a missing or mistyped field reads as empty rather
than raising deep inside a gate, and the type checker knows what comes back.
"""

from __future__ import annotations

from typing import Any, cast


def obj(value: object) -> dict[str, Any]:
    """`value` if it is a JSON object, else an empty one."""
    return cast("dict[str, Any]", value) if isinstance(value, dict) else {}


def array(value: object) -> list[Any]:
    """`value` if it is a JSON array, else an empty one."""
    return cast("list[Any]", value) if isinstance(value, list) else []
