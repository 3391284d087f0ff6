"""The agent's SSE framing: the audio frame made by hand is the frame json.dumps would make."""

from __future__ import annotations

import base64
import json

from vibevoice_platform.agent.events import sse_frame, to_sse
from vibevoice_platform.agent.turn import AudioChunk


def test_audio_frame_is_byte_for_byte_the_json_frame() -> None:
    for seq, pcm in [(0, b""), (7, bytes(range(256)) * 17), (123456, b"\xff\xfe\x00")]:
        expected = sse_frame("audio", {"seq": seq, "audio": base64.b64encode(pcm).decode()})
        frame = to_sse(AudioChunk(seq, pcm))
        assert frame == expected
        data = json.loads(frame.decode().split("data: ", 1)[1])
        assert base64.b64decode(data["audio"]) == pcm
