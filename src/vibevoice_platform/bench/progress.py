"""Progress of a run on stderr: a bar redrawn in place on a terminal, plain lines otherwise (CI logs)."""

from __future__ import annotations

import time
from typing import TextIO

from vibevoice_platform.bench.records import RequestRecord
from vibevoice_platform.bench.wording import counted

_BAR = 30


class Progress:
    """Counts finished requests and reports them; `total` is None for a run bounded by duration."""

    def __init__(
        self, stream: TextIO, *, total: int | None, duration_s: float | None, interval_s: float = 5.0
    ) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._total = total
        self._duration = duration_s
        self._interval = interval_s
        self._started = time.monotonic()
        self._last_line = self._started
        self._last_tenth = 0
        self._printed = -1  # `done` when the last plain line was written
        self.done = 0
        self.failed = 0

    def update(self, record: RequestRecord) -> None:
        """One more request finished."""
        self.done += 1
        self.failed += not record.ok
        now = time.monotonic()
        if self._tty:
            self._stream.write("\r" + self._line(now))
            self._stream.flush()
            return
        tenth = self._fraction(now) * 10 // 1
        if tenth > self._last_tenth or now - self._last_line >= self._interval:
            self._last_tenth, self._last_line = tenth, now
            self._plain(now)

    def close(self) -> None:
        """The run is over: end the bar's line, or print the last plain line unless it is out already."""
        now = time.monotonic()
        if self._tty:
            self._stream.write("\r" + self._line(now) + "\n")
            self._stream.flush()
        elif self._printed != self.done:
            self._plain(now)

    def _plain(self, now: float) -> None:
        self._printed = self.done
        self._stream.write(self._line(now) + "\n")
        self._stream.flush()

    def _fraction(self, now: float) -> float:
        if self._total:
            return min(1.0, self.done / self._total)
        if self._duration:
            return min(1.0, (now - self._started) / self._duration)
        return 0.0

    def _line(self, now: float) -> str:
        elapsed = now - self._started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        if self._total:
            count = f"{self.done}/{counted(self._total, 'request')}"
        else:
            count = f"{counted(self.done, 'request')} in {elapsed:.0f}/{self._duration:g} s"
        filled = round(self._fraction(now) * _BAR)
        bar = f"[{'#' * filled}{'.' * (_BAR - filled)}] " if self._tty else ""
        return f"{bar}{count}, {self.failed} failed, {rate:.1f} req/s"
