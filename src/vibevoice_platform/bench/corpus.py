"""The texts a run speaks: short conversational turns and long paragraphs, in a fixed order.

Request i speaks utterance i modulo the corpus, so two runs with the same settings send the same
texts in the same order, and a baseline and a current run are comparable request for request.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

MAX_CHARS = 4096  # the TTS API's input limit


@dataclass(frozen=True)
class Utterance:
    """One text to speak, with a stable id (kind and position) for the per-request records."""

    id: str
    text: str


SHORT = (
    "Hello, how can I help you today?",
    "Sure, I can do that.",
    "Your order has shipped and should arrive on Thursday.",
    "Sorry, I didn't catch that. Could you say it again?",
    "The meeting is at three o'clock in room twelve.",
    "It is sunny and twenty two degrees outside.",
    "Okay, I've set a timer for ten minutes.",
    "Thanks for calling. Have a great day!",
)

LONG = (
    "Thanks for waiting. I've looked at your account and I can see two payments from last week, one on "
    "Monday and one on Wednesday. The second one looks like a duplicate, so I've asked the billing team "
    "to refund it. You should see the money back on your card within three to five working days, and "
    "you'll get an email as soon as the refund has been processed.",
    "Here is the plan for tomorrow. In the morning you have a stand-up at nine, then a design review "
    "with the platform team at ten thirty. Lunch is free. In the afternoon there is a one-to-one with "
    "your manager at two, and the release train leaves at four, so any last fixes should be merged "
    "before half past three. I'll remind you fifteen minutes before each meeting.",
    "To reset the router, first unplug it from the wall and wait for about thirty seconds. Then plug it "
    "back in and wait until the light on the front turns solid green, which can take up to two "
    "minutes. If the light keeps blinking orange, press and hold the small reset button on the back "
    "for ten seconds, and then set up the network again with the name and password on the sticker.",
)


class CorpusChoice(enum.StrEnum):
    """The built-in corpora."""

    SHORT = "short"
    LONG = "long"
    MIXED = "mixed"

    def utterances(self) -> list[Utterance]:
        """The utterances of this corpus; `mixed` spreads the long ones among the short."""
        short = [Utterance(f"short-{i}", text) for i, text in enumerate(SHORT)]
        long = [Utterance(f"long-{i}", text) for i, text in enumerate(LONG)]
        match self:
            case CorpusChoice.SHORT:
                return short
            case CorpusChoice.LONG:
                return long
            case CorpusChoice.MIXED:
                step = max(1, len(short) // len(long))
                mixed: list[Utterance] = []
                for i, utterance in enumerate(short):
                    mixed.append(utterance)
                    if (i + 1) % step == 0 and (i + 1) // step <= len(long):
                        mixed.append(long[(i + 1) // step - 1])
                return mixed


class CorpusError(ValueError):
    """A corpus file that cannot be used."""


def load_corpus_file(path: Path) -> list[Utterance]:
    """One utterance per non-blank line of a UTF-8 text file."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CorpusError(f"cannot read corpus {path}: {exc}") from exc
    utterances = [Utterance(f"line-{n}", line.strip()) for n, line in enumerate(lines, 1) if line.strip()]
    if not utterances:
        raise CorpusError(f"corpus {path} has no text")
    too_long = [u.id for u in utterances if len(u.text) > MAX_CHARS]
    if too_long:
        raise CorpusError(f"corpus {path}: {', '.join(too_long)} longer than {MAX_CHARS} characters")
    return utterances
