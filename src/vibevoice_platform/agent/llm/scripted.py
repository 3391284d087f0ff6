"""A deterministic LLM for CI and laptops: a fixed preamble, then the user's words echoed back.

A long question gives a long answer, which is what load tests and the sentence chunker need, and the
delay between words stands in for a model's token rate.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

import anyio

from vibevoice_platform.agent.llm.base import LLM, Message

PREAMBLE = "Here is what I heard."


def scripted_reply(user_text: str) -> str:
    """The full reply the scripted LLM gives to `user_text`."""
    return f"{PREAMBLE} {user_text.strip()}"


class ScriptedLLM(LLM):
    """Echoes the last user message word by word after a short preamble."""

    name = "scripted"

    def __init__(self, token_delay_s: float = 0.0) -> None:
        self._delay = token_delay_s

    async def stream(self, messages: list[Message]) -> AsyncGenerator[str, None]:
        last_user = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
        for index, word in enumerate(scripted_reply(last_user).split()):
            if self._delay > 0:
                await anyio.sleep(self._delay)
            else:
                await anyio.lowlevel.checkpoint()
            yield word if index == 0 else " " + word
