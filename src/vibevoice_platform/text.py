"""Incremental sentence chunking of streamed text (LLM tokens, WebSocket text messages).

Text arrives in arbitrary pieces; speech should start as soon as a sentence is complete. A sentence
ends at `.`, `!`, `?` or `…` (with any closing quotes or brackets) followed by whitespace, or at a line
break. A period is not an end after a known abbreviation, an initial ("J. Smith") or inside a number
("3.14", "1,000.5"), because the character after it is not whitespace or the word before it says so.
The first chunk of a reply may end at a clause (`,` `;` `:` or a dash) once it has a few words, so the
first audio comes sooner. A run with no boundary is cut at a space once it grows too long.
"""

from __future__ import annotations

import re

ABBREVIATIONS = frozenset(
    {
        "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "vs", "etc", "e.g", "i.e", "inc",
        "ltd", "co", "corp", "no", "fig", "approx", "dept", "est", "vol", "jan", "feb", "mar", "apr",
        "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "a.m", "p.m", "u.s", "u.k",
    }
)  # fmt: skip
_CLOSERS = "\"')\\]\u201d\u2019"  # quotes and brackets that may follow the end mark
_SENTENCE_END = re.compile(rf"[.!?\u2026]+[{_CLOSERS}]*(?=\s)|\n+")
_CLAUSE_END = re.compile(rf"[,;:]+[{_CLOSERS}]*(?=\s)|\s[-\u2013\u2014]+(?=\s)")
_WORD_BEFORE_DOT = re.compile(r"([A-Za-z][A-Za-z.]*)\.$")


def _is_abbreviation(text: str, dot_end: int) -> bool:
    """Whether the period ending at `dot_end` closes an abbreviation or an initial, not a sentence."""
    match = _WORD_BEFORE_DOT.search(text[:dot_end])
    if match is None:
        return False
    word = match.group(1)
    return word.lower() in ABBREVIATIONS or (len(word) == 1 and word.isupper())


class SentenceChunker:
    """Feeds streamed text in, gives speakable chunks out; synchronous and pure."""

    def __init__(self, *, first_clause_min_words: int = 4, max_chars: int = 300) -> None:
        self._first_clause_min_words = first_clause_min_words
        self._max_chars = max_chars
        self._buffer = ""
        self._emitted_any = False

    def feed(self, text: str) -> list[str]:
        """Add text; return the chunks it completed (possibly none)."""
        self._buffer += text
        chunks: list[str] = []
        while (cut := self._next_cut()) is not None:
            chunk, self._buffer = self._buffer[:cut].strip(), self._buffer[cut:]
            if chunk:
                chunks.append(chunk)
                self._emitted_any = True
        return chunks

    def flush(self) -> list[str]:
        """End of the text: return whatever remains as a final chunk."""
        chunk, self._buffer = self._buffer.strip(), ""
        if not chunk:
            return []
        self._emitted_any = True
        return [chunk]

    def reset(self) -> None:
        """Drop buffered text and start a new reply (after an interrupt or at the end of a turn)."""
        self._buffer = ""
        self._emitted_any = False

    @property
    def pending(self) -> str:
        """Text received but not yet emitted."""
        return self._buffer

    def _next_cut(self) -> int | None:
        cuts = [self._sentence_cut()]
        if not self._emitted_any:
            cuts.append(self._clause_cut())
        found = [cut for cut in cuts if cut is not None]
        if found:
            return min(found)
        if len(self._buffer) > self._max_chars:
            space = self._buffer.rfind(" ", 0, self._max_chars)
            return space if space > 0 else self._max_chars
        return None

    def _sentence_cut(self) -> int | None:
        for match in _SENTENCE_END.finditer(self._buffer):
            if match.group().startswith(".") and _is_abbreviation(self._buffer, match.start() + 1):
                continue
            return match.end()
        return None

    def _clause_cut(self) -> int | None:
        for match in _CLAUSE_END.finditer(self._buffer):
            if len(self._buffer[: match.start()].split()) >= self._first_clause_min_words:
                return match.end()
        return None
