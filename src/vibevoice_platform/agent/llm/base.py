"""The LLM interface: chat messages in, reply text out as a stream of deltas."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator
from typing import Literal, TypedDict


class Message(TypedDict):
    """One chat message, as OpenAI's chat API takes it."""

    role: Literal["system", "user", "assistant"]
    content: str


class LLMError(Exception):
    """The LLM failed, answered an error or timed out; the message is safe to show to a client."""

    def __init__(self, message: str, code: str = "llm_error") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class LLM(ABC):
    """A streaming chat model."""

    name: str

    @abstractmethod
    def stream(self, messages: list[Message]) -> AsyncGenerator[str, None]:
        """Yield the reply as text deltas; raise LLMError on failure."""

    async def check(self) -> tuple[bool, str]:
        """Readiness of the backend: (ok, detail). Cheap: never calls the model."""
        return True, "configured"

    async def aclose(self) -> None:  # noqa: B027 - nothing to release by default
        """Release connections."""
