"""How turn events are framed for each transport: server-sent events and WebSocket messages."""

from __future__ import annotations

import base64
import json
from typing import Any

from vibevoice_platform.agent.turn import AudioChunk, Event, TextDelta, TurnError, TurnMetrics


def sse_frame(event: str, data: dict[str, Any]) -> bytes:
    """One SSE frame: `event: NAME` and a JSON `data:` line."""
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def to_sse(event: Event) -> bytes:
    """The SSE frame of a turn event."""
    match event:
        case TextDelta(delta=delta):
            return sse_frame("text", {"delta": delta})
        case AudioChunk(seq=seq, pcm=pcm):
            return sse_frame("audio", {"seq": seq, "audio": base64.b64encode(pcm).decode()})
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
