"""Tests marked `serial` run alone, even under pytest-xdist (a worker per core: `make test`, the images).

A serial test measures time or needs the machine to itself. Every test holds a shared lock on the
run's machine while it runs (setup, call and teardown); a serial test holds it exclusively, so it
waits for the tests in flight on the other workers and none starts beside it. A turnstile gives it
precedence: once it waits, no other test starts. The locks are files in the run's base temporary
folder, which every worker of the run shares (and pytest removes with old runs). Without xdist there
is one test at a time anyway, and nothing is locked.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

MARKER = "serial"


@contextmanager
def machine(folder: Path, *, alone: bool) -> Iterator[None]:
    """Hold the machine while the block runs: shared, or (`alone`) exclusively."""
    with (folder / "vibevoice-machine.lock").open("a") as room:
        with (folder / "vibevoice-turnstile.lock").open("a") as turnstile:
            fcntl.flock(turnstile, fcntl.LOCK_EX)
            fcntl.flock(room, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        # the turnstile is closed, so released: the next test may queue
        yield


def _run_folder(config: pytest.Config) -> Path | None:
    """The folder every xdist worker of this run shares (the parent of each worker's basetemp), or
    None when this process is not an xdist worker."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return None
    basetemp = config.getoption("basetemp")
    return Path(basetemp).parent if basetemp else None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, object, object]:
    """Each test, setup to teardown, inside its hold on the machine."""
    del nextitem
    folder = _run_folder(item.config)
    if folder is None:
        return (yield)
    with machine(folder, alone=item.get_closest_marker(MARKER) is not None):
        return (yield)
