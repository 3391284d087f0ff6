"""Conversation histories by session id, bounded in count (LRU) and in length."""

from __future__ import annotations

from collections import OrderedDict

from vibevoice_platform.agent.llm import Message


class Sessions:
    """In-memory histories; the least recently used session is forgotten first."""

    def __init__(self, max_sessions: int, max_messages: int) -> None:
        self._max_sessions = max_sessions
        self._max_messages = max_messages
        self._histories: OrderedDict[str, list[Message]] = OrderedDict()

    def history(self, session_id: str | None) -> list[Message]:
        """The recent messages of a session (empty for a new or anonymous one)."""
        if session_id is None or session_id not in self._histories:
            return []
        self._histories.move_to_end(session_id)
        return list(self._histories[session_id])

    def record(self, session_id: str | None, user: str, assistant: str) -> None:
        """Append one exchange (the assistant part may be cut short by an interrupt)."""
        if session_id is None:
            return
        history = self._histories.setdefault(session_id, [])
        history.append({"role": "user", "content": user})
        if assistant:
            history.append({"role": "assistant", "content": assistant})
        del history[: max(0, len(history) - self._max_messages)]
        self._histories.move_to_end(session_id)
        while len(self._histories) > self._max_sessions:
            self._histories.popitem(last=False)


def build_messages(system_prompt: str, history: list[Message], user_text: str) -> list[Message]:
    """The chat messages for one turn."""
    return [{"role": "system", "content": system_prompt}, *history, {"role": "user", "content": user_text}]
