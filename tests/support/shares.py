"""Which service image's test stage runs each of the product's tests.

`dagger call ci` runs pytest in the test stage of both service images. Each stage names its share in
VIBEVOICE_TEST_SHARE, and tests/conftest.py deselects the other share's tests, so each test runs once
across the two images (README, "Which image runs which tests"). Without the variable (`make test`,
a developer's run) nothing is deselected.

By path: the agent's image runs the agent's own tests (its unit, integration and dependency-fault
tests) and the benchmark tool's; the TTS image runs the rest: its own, the shared ones (auth, startup,
signals, the smoke) and the model tests (only the TTS has a `test-model` stage). That splits the time
about evenly (700 s and 590 s of a serial run's `--durations` on a loaded 2-core machine).
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

VARIABLE = "VIBEVOICE_TEST_SHARE"
TTS, AGENT = "tts", "agent"
SHARES = (TTS, AGENT)
# Files or folders, relative to the repository root; everything else is the TTS image's.
AGENT_PATHS = (
    "tests/bench",
    "tests/integration/test_agent.py",
    "tests/integration/test_dependency_faults.py",
    "tests/unit/test_agent_events.py",
)


def share_of(nodeid: str) -> str:
    """The share a test belongs to, from its node id (`tests/unit/test_x.py::test_y[param]`)."""
    path = nodeid.split("::", 1)[0]
    agents = any(path == prefix or path.startswith(f"{prefix}/") for prefix in AGENT_PATHS)
    return AGENT if agents else TTS


def selected(share: str, items: Sequence[pytest.Item]) -> tuple[list[pytest.Item], list[pytest.Item]]:
    """(`share`'s items, the others'); a UsageError for a share that does not exist."""
    if share not in SHARES:
        msg = f"{VARIABLE}={share!r}: expected one of {', '.join(SHARES)}"
        raise pytest.UsageError(msg)
    mine = [item for item in items if share_of(item.nodeid) == share]
    return mine, [item for item in items if share_of(item.nodeid) != share]
