"""A 30-second version of `scripts/soak.py soak`, asserting mechanisms, never timing.

Both services run as real processes under the soak's mixed load (TTS HTTP pcm/wav/SSE, TTS WebSocket,
agent SSE, agent WebSocket with interrupts) at a small concurrency. Afterwards: every response was a
success or a 429, no espeak-ng is left speaking, at most one per slot waits for its text (the TTS's warm
pool), none of either outlives the TTS's SIGTERM, each service's open fds are back to their count before
the load, and RSS after the load is within +50 % of RSS after warm-up.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.tools import ROOT
from vibevoice_platform.tts.engines.base import cpu_count

pytestmark = pytest.mark.integration


def test_short_soak_leaves_nothing_behind(espeak_ng: str, tmp_path: Path) -> None:
    figures = tmp_path / "soak.json"
    command = [sys.executable, str(ROOT / "scripts" / "soak.py"), "soak", "--minutes", "0.5"]
    command += ["--concurrency", "4", "--warmup-s", "5", "--sample-s", "1", "--json", str(figures)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads(figures.read_text())
    statuses = {status for counts in report["responses"].values() for status in counts}
    assert statuses <= {"ok", "429"}, report["responses"]
    kinds = set(report["responses"])
    assert {"tts-pcm", "tts-wav", "tts-sse", "tts-ws", "agent-sse", "agent-ws", "agent-ws-interrupt"} <= kinds
    assert report["espeak_left"] == 0
    assert report["espeak_waiting"] <= cpu_count()  # the TTS's slots, which default to the cores
    assert report["espeak_after_stop"] == 0
    for name, stages in report["resources"].items():
        assert stages["after"]["fds"] <= stages["before"]["fds"], (name, stages)
        assert stages["after"]["rss_kib"] < 1.5 * stages["after_warmup"]["rss_kib"], (name, stages)
