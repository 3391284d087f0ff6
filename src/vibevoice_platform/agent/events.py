"""How turn events are framed for each transport: server-sent events and WebSocket messages."""

from __future__ import annotations

import base64
import json
from typing import Any

from vibevoice_platform.agent.turn import AudioChunk, Event, TextDelta, TurnError, TurnMetrics


def sse_frame(event: str, data: dict[str, Any]) -> bytes:
    """One SSE frame: `event: NAME` and a JSON `data:` line."""
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def audio_frame(chunk: AudioChunk) -> bytes:
    """The SSE frame of an audio chunk, the bytes `sse_frame` would make, put together directly: the
    base64 alphabet needs no JSON escaping, and json.dumps scanning every character of the audio was
    the agent's largest cost of its own after the socket writes."""
    return b'event: audio\ndata: {"seq":%d,"audio":"%s"}\n\n' % (chunk.seq, base64.b64encode(chunk.pcm))


def to_sse(event: Event) -> bytes:
    """The SSE frame of a turn event."""
    match event:
        case TextDelta(delta=delta):
            return sse_frame("text", {"delta": delta})
        case AudioChunk():
            return audio_frame(event)
        case TurnError(code=code, message=message):
            return sse_frame("error", {"code": code, "message": message})
        case TurnMetrics():
            return sse_frame("metrics", event.as_dict())


def to_ws(event: Event) -> bytes | dict[str, Any]:
    """The WebSocket message of a turn event: binary PCM, or a JSON object."""
    match event:
        case TextDelta(delta=delta):
            return {"type": "response.text.delta", "delta": delta}
        case AudioChunk(pcm=pcm):
            return pcm
        case TurnError(code=code, message=message):
            return {"type": "error", "code": code, "message": message}
        case TurnMetrics():
            return {"type": "response.done", "metrics": event.as_dict()}
