"""A small OpenAI-compatible chat completions server for tests (the real API cannot be reached).

It streams `reply` word by word as `chat.completion.chunk` SSE events, records every request it got,
and can be told to fail with a status, to stall (before its first token, or after `stall_after_words`),
or to send an unreadable chunk after its first word.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


@dataclass
class FakeOpenAI:
    """Behaviour and request log of the fake; change the fields between requests."""

    reply: str = "Hello from the fake model. It streams, word by word."
    token_delay_s: float = 0.0
    fail_status: int | None = None
    stall_s: float = 0.0
    stall_after_words: int = 0
    garbage: bool = False
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)

    def app(self) -> Starlette:
        """The ASGI app."""
        return Starlette(routes=[Route("/v1/chat/completions", self._completions, methods=["POST"])])

    async def _completions(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        if self.fail_status is not None:
            error = {"error": {"message": "the fake model is down", "type": "server_error", "code": None}}
            return JSONResponse(error, status_code=self.fail_status)
        return StreamingResponse(self._chunks(body["model"]), media_type="text/event-stream")

    async def _chunks(self, model: str) -> AsyncIterator[bytes]:
        if not self.stall_after_words:
            await asyncio.sleep(self.stall_s)

        def chunk(delta: dict[str, str], finish: str | None = None) -> bytes:
            payload = {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            return f"data: {json.dumps(payload)}\n\n".encode()

        yield chunk({"role": "assistant", "content": ""})
        for index, word in enumerate(self.reply.split(" ")):
            if index and index == self.stall_after_words:
                await asyncio.sleep(self.stall_s)
            if index and self.garbage:
                yield b"data: {not json at all\n\n"
            await asyncio.sleep(self.token_delay_s)
            yield chunk({"content": word if index == 0 else " " + word})
        yield chunk({}, finish="stop")
        yield b"data: [DONE]\n\n"
