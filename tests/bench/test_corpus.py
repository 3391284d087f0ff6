"""The built-in corpora and corpus files."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from vibevoice_platform.bench.corpus import LONG, SHORT, CorpusChoice, CorpusError, load_corpus_file


def test_every_choice_has_texts_within_the_api_limit() -> None:
    for choice in CorpusChoice:
        utterances = choice.utterances()
        assert utterances, choice
        assert all(0 < len(u.text) <= 4096 for u in utterances)
        assert len({u.id for u in utterances}) == len(utterances)


def test_mixed_uses_every_text_once_with_long_ones_spread_out() -> None:
    mixed = CorpusChoice.MIXED.utterances()
    assert sorted(u.text for u in mixed) == sorted([*SHORT, *LONG])
    kinds = [u.id.split("-")[0] for u in mixed]
    assert kinds[0] == "short"
    assert "long" in kinds[: len(kinds) // 2]
    assert all(not (a == b == "long") for a, b in itertools.pairwise(kinds))


def test_short_and_long_differ_in_length() -> None:
    assert max(len(u.text) for u in CorpusChoice.SHORT.utterances()) < 100
    assert min(len(u.text) for u in CorpusChoice.LONG.utterances()) > 250


def test_a_file_gives_one_utterance_per_line(tmp_path: Path) -> None:
    path = tmp_path / "texts.txt"
    path.write_text("Hello there.\n\n  Second line.  \n", encoding="utf-8")
    utterances = load_corpus_file(path)
    assert [(u.id, u.text) for u in utterances] == [("line-1", "Hello there."), ("line-3", "Second line.")]


@pytest.mark.parametrize(
    ("content", "message"),
    [("\n  \n", "has no text"), ("x" * 4097, "longer than 4096"), (None, "cannot read corpus")],
)
def test_unusable_files_are_named(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "texts.txt"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(CorpusError, match=message):
        load_corpus_file(path)
