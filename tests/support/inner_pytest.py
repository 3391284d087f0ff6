"""pytest run in a child process, for the tests of the suite's own rules (shares, serial tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from tests.support.tools import ROOT


def run_pytest(
    args: Sequence[str], *, cwd: Path = ROOT, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m pytest ARGS` in `cwd`, without a cache folder and without the PYTEST_ADDOPTS of the
    run around it (an image's worker count would change what the child prints); `env` adds to or
    replaces this process's environment, an empty value removing a variable."""
    merged = {**os.environ, "PYTEST_ADDOPTS": "", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=cwd,
        env={key: value for key, value in merged.items() if value},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
