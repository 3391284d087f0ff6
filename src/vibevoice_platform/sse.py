"""An incremental parser of server-sent events (the `text/event-stream` wire format), for the clients
of the agent: the smoke test, the benchmark and the tests.

Bytes go in as they arrive, in chunks cut anywhere; complete events come out. Lines end in LF, CRLF
or CR; `data` lines of one event are joined with LF; comments (lines starting with `:`) are skipped.
Unlike a browser, an event that has a name but no data is dispatched too (with empty data): a bare
`event: done` line still ends a stream.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SSEEvent:
    """One dispatched event: its type (`message` when unnamed) and its data."""

    event: str
    data: str

    def json(self) -> Any:
        """The data parsed as JSON."""
        return json.loads(self.data)


class SSEParser:
    """Feed bytes, get the events they complete."""

    def __init__(self) -> None:
        self._buffer = b""
        self._event = ""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """The events completed by `chunk`."""
        self._buffer += chunk
        events: list[SSEEvent] = []
        while True:
            line, found = self._next_line()
            if not found:
                return events
            event = self._line(line)
            if event is not None:
                events.append(event)

    def _next_line(self) -> tuple[str, bool]:
        ends = [i for i in (self._buffer.find(b"\n"), self._buffer.find(b"\r")) if i >= 0]
        if not ends:
            return "", False
        index = min(ends)
        if self._buffer[index] == 0x0D and index + 1 == len(self._buffer):
            return "", False  # a CR at the end may be the first half of a CRLF: wait for more
        end = index + 2 if self._buffer[index : index + 2] == b"\r\n" else index + 1
        line = self._buffer[:index].decode("utf-8", errors="replace")
        self._buffer = self._buffer[end:]
        return line, True

    def _line(self, line: str) -> SSEEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        return None  # id and retry mean nothing to a one-shot client

    def _dispatch(self) -> SSEEvent | None:
        name, data = self._event, self._data
        self._event, self._data = "", []
        if not name and not data:
            return None
        return SSEEvent(name or "message", "\n".join(data))
