"""WebSocket endings a client can read: close frames with reasons, done after an interrupt (and after
one with nothing to stop), session.updated, and a 404 for a path with no WebSocket."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import anyio
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus
from websockets.frames import Close

from tests.support.processes import Service

pytestmark = [pytest.mark.integration, pytest.mark.anyio]
StartAgent = Callable[..., AbstractContextManager[Service]]


async def _closed_with(ws: ClientConnection) -> Close:
    with anyio.fail_after(15):
        await ws.wait_closed()
    close = ws.protocol.close_rcvd
    assert close is not None
    return close


async def test_tts_close_frames_say_why(sine_tts: Service) -> None:
    url = sine_tts.url.replace("http://", "ws://") + "/v1/audio/stream"
    async with connect(url) as ws:
        await ws.send(json.dumps({"type": "start", "voice": "robot"}))
        close = await _closed_with(ws)
    assert close.code == 1008
    assert "robot" in close.reason  # the unknown voice, named
    async with connect(url) as ws:
        await ws.send(b"\x00\x01")
        close = await _closed_with(ws)
    assert (close.code, close.reason) == (1008, "binary frames are not accepted; send JSON text frames")
    async with connect(url) as ws:
        await ws.send(json.dumps({"type": "start", "voice": "alloy"}))
        await ws.send(json.dumps({"type": "text", "text": "Hi."}))
        await ws.send(json.dumps({"type": "end"}))
        close = await _closed_with(ws)
    assert (close.code, close.reason) == (1000, "end of session: all text spoken")


async def test_agent_sends_done_after_interrupted_and_says_why_it_closes(
    sine_tts: Service, start_agent: StartAgent
) -> None:
    with start_agent(sine_tts.url, "--llm", "scripted", "--scripted-token-delay-ms", "50") as agent:
        url = agent.url.replace("http://", "ws://") + "/v1/agent/ws"
        async with connect(url) as ws:
            await ws.send(json.dumps({"type": "user.text", "text": "Tell me a long story. " * 20}))
            with anyio.fail_after(15):
                while not isinstance(await ws.recv(), bytes):  # the response is under way
                    pass
            await ws.send(json.dumps({"type": "interrupt"}))
            kinds: list[str] = []
            message: dict[str, Any] = {}
            with anyio.fail_after(15):
                while not kinds or kinds[-1] != "response.done":
                    frame = await ws.recv()
                    if isinstance(frame, str):
                        message = json.loads(frame)
                        kinds.append(message["type"])
            assert kinds[-2:] == ["response.interrupted", "response.done"]
            assert message == {"type": "response.done", "interrupted": True, "metrics": None}
            await ws.send(b"\x00")
            close = await _closed_with(ws)
        assert (close.code, close.reason) == (1008, "binary frames are not accepted; send JSON text frames")


async def test_every_agent_message_is_answered(sine_tts: Service, start_agent: StartAgent) -> None:
    """An interrupt with nothing to stop gets its done (the README says a client can always wait for
    done), and a session.update gets session.updated with the session as it now is."""
    with start_agent(sine_tts.url, "--llm", "scripted") as agent:
        async with connect(agent.url.replace("http://", "ws://") + "/v1/agent/ws") as ws:
            await ws.send(json.dumps({"type": "interrupt"}))
            with anyio.fail_after(15):
                done = json.loads(await ws.recv())
            assert done == {"type": "response.done", "interrupted": False, "metrics": None}
            await ws.send(json.dumps({"type": "session.update", "voice": "nova"}))
            await ws.send(json.dumps({"type": "session.update", "system_prompt": "Be brief."}))
            with anyio.fail_after(15):
                first, second = json.loads(await ws.recv()), json.loads(await ws.recv())
            assert first == {"type": "session.updated", "voice": "nova", "system_prompt": None}
            assert second == {"type": "session.updated", "voice": "nova", "system_prompt": "Be brief."}


@pytest.mark.parametrize("path", ["/v1/audio/streams", "/ws", "/v1/agent/ws"])
async def test_a_websocket_to_a_path_with_none_is_404_naming_those_there_are(
    sine_tts: Service, path: str
) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(sine_tts.url.replace("http://", "ws://") + path):
            pass
    response = refused.value.response
    assert response.status_code == 404  # not 403, which reads as a refused key
    error = json.loads(response.body or b"{}")["error"]
    assert error["code"] == "not_found"
    assert f"no WebSocket at {path}; this service's: /v1/audio/stream" == error["message"]
