"""Whether Microsoft's realtime VibeVoice package is importable here, for the `realtime` marker.

The package is not on PyPI: the cuda image installs it from Microsoft's repository (its `test-cuda`
stage runs the tests that need it). Elsewhere those tests cannot run, and a test that returned early
there would pass having checked nothing: tests/conftest.py deselects them instead, so they are neither
run nor counted where the package is absent, and a run that asks for them (`-m realtime`) fails
without it rather than deselecting them.
"""

from __future__ import annotations

import importlib.util

from vibevoice_platform.tts.engines.vibevoice_realtime import MODEL_MODULE

MARKER = "realtime"


def realtime_package_installed() -> bool:
    """Whether the realtime model module can be found (its parent packages are imported to look)."""
    try:
        return importlib.util.find_spec(MODEL_MODULE) is not None
    except ModuleNotFoundError:
        return False
