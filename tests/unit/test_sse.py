"""The incremental SSE parser."""

from __future__ import annotations

import pytest

from vibevoice_platform.sse import SSEEvent, SSEParser

STREAM = (
    b": a comment\n"
    b'event: text\ndata: {"delta": "Hi"}\n\n'
    b"data: line one\ndata: line two\n\n"
    b"event: audio\r\ndata: AAAA\r\n\r\n"
    b"event: done\n\n"
)
EXPECTED = [
    SSEEvent("text", '{"delta": "Hi"}'),
    SSEEvent("message", "line one\nline two"),
    SSEEvent("audio", "AAAA"),
    SSEEvent("done", ""),
]


def test_whole_stream_at_once() -> None:
    assert SSEParser().feed(STREAM) == EXPECTED


def test_chunks_cut_anywhere_give_the_same_events() -> None:
    for size in (1, 2, 3, 7, 16):
        parser = SSEParser()
        events = [e for i in range(0, len(STREAM), size) for e in parser.feed(STREAM[i : i + size])]
        assert events == EXPECTED, size


def test_bare_cr_line_endings_and_a_cr_split_from_its_lf() -> None:
    parser = SSEParser()
    assert parser.feed(b"event: a\rdata: 1\r\r") == []  # the last CR may be half of a CRLF
    assert parser.feed(b"data: 2\r") == [SSEEvent("a", "1")]
    assert parser.feed(b"\n\r\n") == [SSEEvent("message", "2")]


@pytest.mark.parametrize("line", [b"data:x", b"data: x"])
def test_one_leading_space_is_dropped(line: bytes) -> None:
    assert SSEParser().feed(line + b"\n\n") == [SSEEvent("message", "x")]


def test_blank_lines_alone_and_ids_dispatch_nothing() -> None:
    assert SSEParser().feed(b"\n\nid: 3\nretry: 10\n\n") == []
