"""Any OpenAI-compatible `/chat/completions` endpoint, streamed (`stream: true`) over httpx, its
server-sent events read by httpx-sse.

Transport and protocol errors are translated into LLMError here, once; the API key is sent in the
Authorization header and never logged or echoed. Without a key no request is made: each turn's error,
like /ready's check, names the variable to set.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator

import httpx
from httpx_sse import SSEError, aconnect_sse
from pydantic import SecretStr

from vibevoice_platform.agent.llm.base import LLM, LLMError, Message


def _delta(payload: str) -> str:
    """The text delta of one streamed chunk (empty for role-only or final chunks)."""
    try:
        chunk = json.loads(payload)
        choices = chunk.get("choices") or []
        return (choices[0].get("delta") or {}).get("content") or "" if choices else ""
    except (ValueError, AttributeError, IndexError, TypeError) as exc:
        raise LLMError(f"the LLM API sent an unreadable chunk: {payload[:200]!r}") from exc


def _error_message(status: int, body: bytes) -> str:
    try:
        detail = json.loads(body).get("error", {}).get("message")
    except (ValueError, AttributeError):
        detail = None
    return f"the LLM API answered {status}" + (f": {detail}" if detail else "")


KEY_VARIABLE = "VIBEVOICE_AGENT_OPENAI_API_KEY"


class OpenAIChatLLM(LLM):
    """Streams chat completions from an OpenAI-compatible server."""

    name = "openai"

    def __init__(self, *, base_url: str, model: str, api_key: SecretStr | None, timeout_s: float) -> None:
        headers = {"Authorization": f"Bearer {api_key.get_secret_value()}"} if api_key else {}
        self._model = model
        self._has_key = api_key is not None and bool(api_key.get_secret_value())
        self._base_url = base_url.rstrip("/")
        self._client = httpx.AsyncClient(
            base_url=self._base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0)),
        )

    async def check(self) -> tuple[bool, str]:
        if not self._has_key:  # every turn would fail with a 401: say so before traffic arrives
            return False, self._no_key()
        return True, f"{self._model} at {self._base_url}"

    def _no_key(self) -> str:
        return f"no API key for {self._base_url}: set {KEY_VARIABLE} (any value for a server that needs none)"

    async def stream(self, messages: list[Message]) -> AsyncGenerator[str, None]:
        if not self._has_key:
            raise LLMError(self._no_key(), code="llm_no_api_key")
        body = {"model": self._model, "messages": messages, "stream": True}
        try:
            async with aconnect_sse(self._client, "POST", "/chat/completions", json=body) as source:
                response = source.response
                if response.status_code >= 400:
                    raise LLMError(_error_message(response.status_code, await response.aread()))
                async for event in source.aiter_sse():
                    if event.data == "[DONE]":
                        return
                    if delta := _delta(event.data):
                        yield delta
        except SSEError as exc:  # an answer that is not an event stream (httpx-sse checks its type)
            raise LLMError(f"the LLM API did not answer with an event stream: {exc}") from exc
        except httpx.TimeoutException as exc:
            raise LLMError("the LLM API timed out", code="llm_timeout") from exc
        except httpx.HTTPError as exc:
            raise LLMError(
                f"the LLM API is unreachable: {type(exc).__name__}", code="llm_unavailable"
            ) from exc

    async def aclose(self) -> None:
        await self._client.aclose()
