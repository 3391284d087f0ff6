"""The two service images' test stages run each test once between them (tests/support/shares.py).

Computed from what pytest really collects: once with no share (what `make test` runs), and once in each
image's share (VIBEVOICE_TEST_SHARE, as each test stage sets it). The shares must cover the suite,
never overlap, and leave the other share's tests deselected, not skipped (under CI=true a skip is a
failure).
"""

from __future__ import annotations

import re

import pytest

from tests.support import shares
from tests.support.inner_pytest import run_pytest

SUMMARY = re.compile(r"(?P<collected>\d+)(?:/\d+)? tests? collected(?: \((?P<deselected>\d+) deselected\))?")


def collect(share: str) -> tuple[set[str], int]:
    """The node ids pytest collects under tests/ in `share` ("": none), and how many it deselected."""
    result = run_pytest(["--collect-only", "-q", "tests"], env={shares.VARIABLE: share})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    ids = {line for line in result.stdout.splitlines() if "::" in line}
    summary = SUMMARY.search(result.stdout)
    assert summary, result.stdout[-1000:]
    assert int(summary["collected"]) == len(ids)
    return ids, int(summary["deselected"] or 0)


@pytest.fixture(scope="module")
def collections() -> dict[str, tuple[set[str], int]]:
    return {share: collect(share) for share in ("", *shares.SHARES)}


def test_the_images_shares_cover_the_suite_once(collections: dict[str, tuple[set[str], int]]) -> None:
    everything, _ = collections[""]
    tts, _ = collections[shares.TTS]
    agent, _ = collections[shares.AGENT]
    assert tts
    assert agent
    assert tts | agent == everything
    assert tts & agent == set()


def test_each_image_deselects_the_other_share(collections: dict[str, tuple[set[str], int]]) -> None:
    # Without a share only the `realtime` tests can be deselected (where their package is absent): every
    # run deselects those, so each share deselects exactly them plus the other share's tests.
    everything, realtime_deselected = collections[""]
    for share in shares.SHARES:
        mine, deselected = collections[share]
        assert deselected == len(everything - mine) + realtime_deselected, share


def test_the_model_tests_are_the_tts_images(collections: dict[str, tuple[set[str], int]]) -> None:
    # The model tests run in the TTS image's test-model stage, which inherits its share.
    agent, _ = collections[shares.AGENT]
    assert not {test for test in agent if test.startswith("tests/model/")}


def test_an_unknown_share_is_a_usage_error() -> None:
    result = run_pytest(["--collect-only", "-q", "tests/unit"], env={shares.VARIABLE: "asr"})
    assert result.returncode == pytest.ExitCode.USAGE_ERROR
    assert "VIBEVOICE_TEST_SHARE='asr': expected one of tts, agent" in result.stderr
