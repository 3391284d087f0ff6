"""Progress on a terminal and in a log."""

from __future__ import annotations

import io

from vibevoice_platform.bench.progress import Progress
from vibevoice_platform.bench.records import ErrorType, RequestError, RequestRecord


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _record(ok: bool) -> RequestRecord:
    error = None if ok else RequestError(type=ErrorType.TIMEOUT, message="slow")
    return RequestRecord(index=0, utterance="u", chars=1, offset_s=0, ok=ok, error=error)


def test_plain_lines_at_each_tenth_and_no_repeat_at_the_end() -> None:
    log = io.StringIO()
    progress = Progress(log, total=20, duration_s=None)
    for i in range(20):
        progress.update(_record(ok=i != 3))
    progress.close()
    lines = log.getvalue().splitlines()
    assert len(lines) == 10
    assert lines[0].startswith("2/20 requests, 0 failed")
    assert lines[-1].startswith("20/20 requests, 1 failed")
    assert "\r" not in log.getvalue()


def test_a_terminal_gets_a_bar_redrawn_in_place() -> None:
    tty = _Terminal()
    progress = Progress(tty, total=4, duration_s=None)
    for _ in range(4):
        progress.update(_record(ok=True))
    progress.close()
    out = tty.getvalue()
    assert out.count("\r") == 5
    assert out.endswith("\n")
    assert out.count("\n") == 1
    assert "[" + "#" * 30 + "] 4/4 requests" in out


def test_a_timed_run_counts_against_its_duration() -> None:
    log = io.StringIO()
    progress = Progress(log, total=None, duration_s=30.0)
    progress.update(_record(ok=True))
    progress.close()
    assert "1 request in 0/30 s, 0 failed" in log.getvalue()
