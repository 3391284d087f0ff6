"""Conversation histories by session id: the store interface the agent uses, and its in-memory store.

A history is bounded in length (its last `max_messages` messages) and in time (a session with no turn
for `ttl_s` seconds is forgotten). The memory store belongs to one process and also keeps at most
`max_sessions` histories, forgetting the least recently used first; the Redis store (redis_store.py)
is shared by every agent replica, so a session's turns may land on any of them.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable

from vibevoice_platform.agent.llm import Message


class SessionStoreError(Exception):
    """The store could not be read or written in time (down, slow, refusing); the message says why."""


class SessionStore(ABC):
    """Where histories live; `name` describes it (no credentials) for logs and /ready."""

    name: str

    def __init__(self, max_messages: int, ttl_s: float) -> None:
        self.max_messages = max_messages
        self.ttl_s = ttl_s

    @abstractmethod
    async def history(self, session_id: str) -> list[Message]:
        """The recent messages of a session, oldest first (empty for a new or forgotten one)."""

    async def record(self, session_id: str, user: str, assistant: str) -> None:
        """Append one exchange (the assistant part may be cut short by an interrupt, or empty)."""
        if self.max_messages == 0:
            return
        messages: list[Message] = [{"role": "user", "content": user}]
        if assistant:
            messages.append({"role": "assistant", "content": assistant})
        await self._append(session_id, messages)

    @abstractmethod
    async def _append(self, session_id: str, messages: list[Message]) -> None:
        """Add `messages`, keep the last `max_messages`, and restart the session's time to live."""

    async def check(self) -> tuple[bool, str]:
        """(ok, detail) for /ready."""
        return True, self.name

    async def aclose(self) -> None:  # noqa: B027 - nothing to release by default
        """Release connections."""


class MemorySessions(SessionStore):
    """Histories in this process's memory, in the order of their last turn."""

    name = "memory (this process only)"

    def __init__(
        self,
        max_sessions: int,
        max_messages: int,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(max_messages, ttl_s)
        self._max_sessions = max_sessions
        self._clock = clock
        self._histories: OrderedDict[str, tuple[float, list[Message]]] = OrderedDict()

    async def history(self, session_id: str) -> list[Message]:
        self._forget_expired()
        _, messages = self._histories.get(session_id, (0.0, []))
        return list(messages)

    async def _append(self, session_id: str, messages: list[Message]) -> None:
        self._forget_expired()
        _, history = self._histories.pop(session_id, (0.0, []))
        history = [*history, *messages][-self.max_messages :]
        self._histories[session_id] = (self._clock(), history)
        while len(self._histories) > self._max_sessions:
            self._histories.popitem(last=False)

    def _forget_expired(self) -> None:
        """Drop the sessions whose last turn is older than the TTL (they come first)."""
        deadline = self._clock() - self.ttl_s
        while self._histories and next(iter(self._histories.values()))[0] <= deadline:
            self._histories.popitem(last=False)


def build_messages(system_prompt: str, history: list[Message], user_text: str) -> list[Message]:
    """The chat messages for one turn."""
    return [{"role": "system", "content": system_prompt}, *history, {"role": "user", "content": user_text}]
