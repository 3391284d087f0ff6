"""Finding the external tools a test needs.

Locally a test whose tool is missing skips and says which tool and how to get it; under `CI=true`
nothing may skip, so the same call fails the test instead.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Tools installed by the project itself: the venv's scripts (PyPI wheels) and .tools/bin (helm from npm).
TOOL_DIRS = (Path(sys.executable).parent, ROOT / ".tools" / "bin")


def in_ci() -> bool:
    """True when running under CI (`CI=true`), where a missing tool is a failure."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(reason: str) -> None:
    """Skip locally, fail under CI, with the reason."""
    if in_ci():
        pytest.fail(f"{reason} (required under CI=true)")
    pytest.skip(reason)


def require_tool(name: str, hint: str = "") -> str:
    """The path of executable `name`, looked up in the project's tool dirs and then PATH."""
    for directory in TOOL_DIRS:
        candidate = directory / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        unavailable(f"{name} not found" + (f": {hint}" if hint else ""))
        raise AssertionError  # unreachable: unavailable() raises
    return found
