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


def _error_detail(body: bytes) -> str:
    try:
        return str(json.loads(body)["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return body[:200].decode(errors="replace")


UNREACHABLE = (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol)
READY_TIMEOUT_S = 2.0


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
        try:
            async with self._pool.stream(
                "POST",
                self._speech_url,
                headers=headers,
                content=body,
                extensions={"timeout": self._timeouts},
            ) as response:
                if response.status != 200:
                    detail = _error_detail(await response.aread())
                    code = "tts_overloaded" if response.status == 429 else "tts_error"
                    raise TTSUnavailableError(f"the TTS service answered {response.status}: {detail}", code)
                async for data in response.aiter_stream():
                    if pcm := aligner.push(data):
                        yield pcm
        except httpcore.TimeoutException as exc:
            raise TTSUnavailableError("the TTS service timed out", "tts_timeout") from exc
        except UNREACHABLE as exc:
            raise TTSUnavailableError(f"the TTS service is unreachable: {type(exc).__name__}") from exc

    async def check(self) -> tuple[bool, str]:
        """Readiness of the TTS service: (ok, detail); never raises."""
        timeouts = dict.fromkeys(("connect", "read", "write", "pool"), READY_TIMEOUT_S)
        try:
            response = await self._pool.request(
                "GET", self._ready_url, headers=self._headers, extensions={"timeout": timeouts}
            )
        except (httpcore.TimeoutException, *UNREACHABLE) as exc:
            return False, f"{self.base_url} unreachable: {type(exc).__name__}"
        if response.status != 200:
            return False, f"{self.base_url}/ready answered {response.status}"
        return True, f"{self.base_url} ready"

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._pool.aclose()
