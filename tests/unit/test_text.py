from __future__ import annotations

import pytest

from vibevoice_platform.text import SentenceChunker


def chunk_all(pieces: list[str], **options: int) -> list[str]:
    chunker = SentenceChunker(**options)
    out: list[str] = []
    for piece in pieces:
        out += chunker.feed(piece)
    return out + chunker.flush()


def test_sentences_complete_only_when_the_next_character_arrives() -> None:
    chunker = SentenceChunker()
    assert chunker.feed("Hello there.") == []
    assert chunker.feed(" How") == ["Hello there."]
    assert chunker.flush() == ["How"]


@pytest.mark.parametrize(
    "text",
    [
        "Dr. Smith met Mrs. Jones at 3 p.m. today.",
        "Pi is about 3.14159 and e is 2.71828 in value.",
        "We use tools, e.g. ruff, i.e. a linter.",
        "J. R. R. Tolkien wrote it.",
        "It costs 1,000.50 dollars.",
    ],
)
def test_abbreviations_initials_and_decimals_do_not_split(text: str) -> None:
    assert chunk_all([*text], first_clause_min_words=100) == [text]


def test_streamed_token_by_token_equals_fed_at_once() -> None:
    text = 'She said "stop!" Then she left? Yes... Finally\nnew line here. End'
    whole = chunk_all([text])
    assert chunk_all([*text]) == whole
    assert whole == ['She said "stop!"', "Then she left?", "Yes...", "Finally", "new line here.", "End"]


def test_first_chunk_may_end_at_a_clause_later_ones_may_not() -> None:
    text = "Well, let me think about that, it is a good question, really. And then, more."
    assert chunk_all([text]) == [
        "Well, let me think about that,",
        "it is a good question, really.",
        "And then, more.",
    ]


def test_clause_cut_needs_enough_words() -> None:
    assert chunk_all(["Yes, sure. Ok."]) == ["Yes, sure.", "Ok."]


def test_long_run_without_boundary_is_cut_at_a_space() -> None:
    words = " ".join(["word"] * 100)
    chunks = chunk_all([words], max_chars=50)
    assert all(len(c) <= 50 for c in chunks)
    assert " ".join(chunks) == words


def test_reset_drops_pending_and_restores_first_clause_rule() -> None:
    chunker = SentenceChunker()
    assert chunker.feed("First sentence here. pending") == ["First sentence here."]
    assert chunker.pending == " pending"
    chunker.reset()
    assert chunker.pending == ""
    assert chunker.feed("one two three four, five ") == ["one two three four,"]


def test_blank_input_yields_nothing() -> None:
    assert chunk_all(["   ", "\t"]) == []
