"""Encoding of a synthesis into an HTTP body: audio in the requested format, or server-sent events.

Encoding is kept apart from synthesis: a `Synthesis` yields PCM16; an encoder (`encoders.py`) turns it
into the response format, chunk by chunk, and these functions frame it. The streamed response object
owns the synthesis and closes it however the response ends (done, hang-up, error), so the engine is
stopped and the slot freed even if the body was never iterated. A whole file (`"stream": false`) is
made to its end first, then sent with its length.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncGenerator, Callable
from typing import Literal

import anyio
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from vibevoice_platform.audio import SAMPLE_RATE
from vibevoice_platform.tts.encoders import MEDIA_TYPES, encoder_for
from vibevoice_platform.tts.errors import TTSError
from vibevoice_platform.tts.schemas import ResponseFormat
from vibevoice_platform.tts.service import Synthesis


async def audio_body(
    synthesis: Synthesis, response_format: ResponseFormat, *, whole: bool = False
) -> AsyncGenerator[bytes, None]:
    """The audio encoded as it is made, each chunk as soon as the encoder has bytes for it (`whole`:
    one chunk at the end, the complete file)."""
    encoder = encoder_for(response_format, whole=whole)

    async def run(step: Callable[..., bytes], *args: bytes) -> bytes:
        # A thread that is not abandoned on cancellation: the codec is never used by two at once.
        return await anyio.to_thread.run_sync(step, *args) if encoder.in_thread else step(*args)

    finished = False
    try:
        async for chunk in synthesis:
            if encoded := await run(encoder.encode, chunk):
                yield encoded
        finished = True
        if tail := await run(encoder.finish):
            yield tail
    finally:
        if not finished:
            with anyio.CancelScope(shield=True):
                await run(encoder.finish)  # frees the codec; a cut-off stream's tail goes nowhere


def _sse(payload: dict[str, object]) -> bytes:
    return f"data: {json.dumps(payload)}\n\n".encode()


async def sse_body(
    synthesis: Synthesis, response_format: ResponseFormat, text: str
) -> AsyncGenerator[bytes, None]:
    """OpenAI's speech SSE: `speech.audio.delta` events with base64 audio, then `speech.audio.done`."""
    try:
        async for chunk in audio_body(synthesis, response_format):
            yield _sse({"type": "speech.audio.delta", "audio": base64.b64encode(chunk).decode()})
    except TTSError as exc:
        yield _sse(
            {"type": "error", "error": {"message": exc.message, "type": exc.error_type, "code": exc.code}}
        )
        return
    tokens = len(text.split())
    yield _sse(
        {
            "type": "speech.audio.done",
            "usage": {"input_tokens": tokens, "output_tokens": 0, "total_tokens": tokens},
        }
    )


def _timing_headers(synthesis: Synthesis) -> dict[str, str]:
    return {
        "Cache-Control": "no-store",
        "X-Sample-Rate": str(SAMPLE_RATE),
        # Server-side timings, so a client can tell the service's share of its TTFA from the engine's.
        "X-TTFA-Ms": f"{synthesis.ttfa_s * 1000:.2f}",
        "X-Queue-Ms": f"{synthesis.queue_s * 1000:.2f}",
        "X-Engine-TTFA-Ms": f"{(synthesis.ttfa_s - synthesis.queue_s) * 1000:.2f}",
    }


async def whole_file(synthesis: Synthesis, response_format: ResponseFormat) -> Response:
    """The complete file, its header filled in (FLAC's total samples, the WAV sizes), with its length."""
    try:
        content = b"".join([chunk async for chunk in audio_body(synthesis, response_format, whole=True)])
    finally:
        with anyio.CancelScope(shield=True):
            await synthesis.aclose()
    return Response(content, media_type=MEDIA_TYPES[response_format], headers=_timing_headers(synthesis))


class SynthesisResponse(StreamingResponse):
    """A streaming response that always closes its synthesis when the response ends."""

    def __init__(
        self,
        synthesis: Synthesis,
        response_format: ResponseFormat,
        stream_format: Literal["audio", "sse"],
        text: str,
    ) -> None:
        if stream_format == "sse":
            body, media_type = sse_body(synthesis, response_format, text), "text/event-stream"
        else:
            body, media_type = audio_body(synthesis, response_format), MEDIA_TYPES[response_format]
        super().__init__(body, media_type=media_type, headers=_timing_headers(synthesis))
        self._synthesis = synthesis
        self._body = body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self._stream(receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await self._body.aclose()
                await self._synthesis.aclose()

    async def _stream(self, receive: Receive, send: Send) -> None:
        """Stream from this task while a second one watches for the client leaving.

        Starlette's StreamingResponse does the reverse (under uvicorn's ASGI spec 2.3): it streams
        from a task it starts, one more turn of the event loop before the first byte. Here the
        headers and the first chunk, which the synthesis already holds, leave back to back. A client
        that leaves, or stops reading (`ClientStalledError`, an OSError), ends the stream; any other
        error propagates as itself, as from StreamingResponse.
        """
        failure: Exception | None = None
        async with anyio.create_task_group() as tg:

            async def watch_disconnect() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                tg.cancel_scope.cancel()

            tg.start_soon(watch_disconnect)
            try:
                await send(
                    {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
                )
                async for chunk in self._body:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            except OSError:
                pass  # the client is gone: nothing more to send
            except Exception as exc:  # raised below, outside the task group (which would wrap it)
                failure = exc
            tg.cancel_scope.cancel()
        if failure is not None:
            raise failure
