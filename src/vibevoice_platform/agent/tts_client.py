"""The agent's client of the TTS service: one streamed request per sentence, and a readiness probe.

The speech requests and the readiness probe go straight through one keep-alive connection pool
(httpcore, which httpx itself runs on), with the URLs and headers made once: httpx's client layers
(URL parsing and merging, cookies, auth, redirects, event hooks) cost about 0.5 ms of CPU a request
here, each one on the path to the turn's first audio. The TTS is reached directly, never through a
proxy named in the environment: it is the service next door.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator

import anyio
import httpcore
import httpx
from pydantic import SecretStr

from vibevoice_platform.audio import PCMAligner
from vibevoice_platform.logs import REQUEST_ID_HEADER, request_id_var


class TTSUnavailableError(Exception):
    """The TTS service is down, not ready, overloaded or failed; the message is safe to show."""

    def __init__(self, message: str, code: str = "tts_unavailable") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


# The turn's error code for a TTS answer: 503 is a TTS that is up but not ready (loading, draining, or
# failed to load), as unavailable to a turn as one that is down; any other refusal is the TTS's error.
_ERROR_CODES = {429: "tts_overloaded", 503: "tts_unavailable"}


def _error_detail(body: bytes) -> str:
    try:
        return str(json.loads(body)["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return body[:200].decode(errors="replace")


UNREACHABLE = (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol)
# A kept-alive connection the TTS closed before answering (a TTS pod stopping closes its idle ones).
_CLOSED_UNDER_REQUEST = (httpcore.ReadError, httpcore.WriteError, httpcore.RemoteProtocolError)
# The longest the agent's /ready waits for the TTS's: well inside a readiness probe's timeout (2 s in the
# chart), so a TTS whose connections hang never fails the agent's own probe.
READY_CHECK_S = 1.0


class TTSClient:
    """Streams PCM16 from `POST /v1/audio/speech`; closing the stream hangs up, which stops synthesis.
    The readiness probe shares the pool, so a probe also drops the connections the TTS has closed."""

    def __init__(self, base_url: str, timeout_s: float, api_key: SecretStr | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        speech = httpx.URL(f"{self.base_url}/v1/audio/speech")
        self._speech_url = httpcore.URL(str(speech))
        self._ready_url = httpcore.URL(str(speech.copy_with(path="/ready")))
        self._headers = [(b"Host", speech.netloc)]
        if api_key:
            self._headers.append((b"Authorization", f"Bearer {api_key.get_secret_value()}".encode()))
        connect = min(timeout_s, 5.0)
        self._timeouts = {"connect": connect, "read": timeout_s, "write": timeout_s, "pool": timeout_s}
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context() if speech.scheme == "https" else None,
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
        )

    async def stream(self, text: str, voice: str) -> AsyncGenerator[bytes, None]:
        """PCM16 24 kHz mono chunks for `text`, on whole-sample boundaries."""
        body = json.dumps(
            {"model": "tts-1", "input": text, "voice": voice, "response_format": "pcm"}
        ).encode()
        headers = [
            *self._headers,
            (b"Content-Type", b"application/json"),
            (b"Content-Length", str(len(body)).encode()),
        ]
        if rid := request_id_var.get():
            headers.append((REQUEST_ID_HEADER.encode(), rid.encode()))
        aligner = PCMAligner()
        request = httpcore.Request(
            "POST", self._speech_url, headers=headers, content=body, extensions={"timeout": self._timeouts}
        )
        try:
            response = await self._send(request)
            try:
                if response.status != 200:
                    detail = _error_detail(await response.aread())
                    code = _ERROR_CODES.get(response.status, "tts_error")
                    raise TTSUnavailableError(f"the TTS service answered {response.status}: {detail}", code)
                async for data in response.aiter_stream():
                    if pcm := aligner.push(data):
                        yield pcm
            finally:
                await response.aclose()
        except httpcore.TimeoutException as exc:
            raise TTSUnavailableError("the TTS service timed out", "tts_timeout") from exc
        except UNREACHABLE as exc:
            raise TTSUnavailableError(f"the TTS service is unreachable: {type(exc).__name__}") from exc

    async def _send(self, request: httpcore.Request) -> httpcore.Response:
        """Send a synthesis, its response streamed; sent once more, on a new connection, when the
        kept-alive connection it went out on was closed before any answer (nothing has answered it, so
        nothing is synthesized twice)."""
        try:
            return await self._pool.handle_async_request(request)
        except _CLOSED_UNDER_REQUEST:
            return await self._pool.handle_async_request(request)

    async def check(self, within_s: float = READY_CHECK_S) -> tuple[bool, str]:
        """Readiness of the TTS service: (ok, detail), within `within_s` in all; never raises."""
        timeouts = dict.fromkeys(("connect", "read", "write", "pool"), within_s)
        with anyio.move_on_after(within_s):
            try:
                response = await self._pool.request(
                    "GET", self._ready_url, headers=self._headers, extensions={"timeout": timeouts}
                )
            except (httpcore.TimeoutException, *UNREACHABLE) as exc:
                return False, f"{self.base_url} unreachable: {type(exc).__name__}"
            if response.status != 200:
                return False, f"{self.base_url}/ready answered {response.status}"
            return True, f"{self.base_url} ready"
        return False, f"{self.base_url}/ready gave no answer within {within_s:g} s"

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._pool.aclose()
