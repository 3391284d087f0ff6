"""The agent's client of the TTS service: one streamed request per sentence, and a readiness probe."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator

import anyio
import httpx
from pydantic import SecretStr

from vibevoice_platform.audio import PCMAligner
from vibevoice_platform.logs import REQUEST_ID_HEADER, request_id_var

# The longest the agent's /ready waits for the TTS's: well inside a readiness probe's timeout (2 s in the
# chart), so a TTS whose connections hang never fails the agent's own probe.
READY_CHECK_S = 1.0


class TTSUnavailableError(Exception):
    """The TTS service is down, not ready, overloaded or failed; the message is safe to show."""

    def __init__(self, message: str, code: str = "tts_unavailable") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


# The turn's error code for a TTS answer: 503 is a TTS that is up but not ready (loading, or failed to
# load), as unavailable to a turn as one that is down; any other refusal is the TTS's error.
_ERROR_CODES = {429: "tts_overloaded", 503: "tts_unavailable"}


def _error_detail(body: bytes) -> str:
    try:
        return str(json.loads(body)["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return body[:200].decode(errors="replace")


class TTSClient:
    """Streams PCM16 from `POST /v1/audio/speech`; closing the stream hangs up, which stops synthesis."""

    def __init__(self, base_url: str, timeout_s: float, api_key: SecretStr | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {api_key.get_secret_value()}"} if api_key else None
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0)),
            headers=headers,
        )

    async def stream(self, text: str, voice: str) -> AsyncGenerator[bytes, None]:
        """PCM16 24 kHz mono chunks for `text`, on whole-sample boundaries."""
        body = {"model": "tts-1", "input": text, "voice": voice, "response_format": "pcm"}
        headers = {REQUEST_ID_HEADER: rid} if (rid := request_id_var.get()) else {}
        aligner = PCMAligner()
        try:
            response = await self._send(body, headers)
            try:
                if response.status_code != 200:
                    detail = _error_detail(await response.aread())
                    code = _ERROR_CODES.get(response.status_code, "tts_error")
                    raise TTSUnavailableError(
                        f"the TTS service answered {response.status_code}: {detail}", code
                    )
                async for data in response.aiter_raw():
                    if pcm := aligner.push(data):
                        yield pcm
            finally:
                await response.aclose()
        except httpx.TimeoutException as exc:
            raise TTSUnavailableError("the TTS service timed out", "tts_timeout") from exc
        except httpx.HTTPError as exc:
            raise TTSUnavailableError(f"the TTS service is unreachable: {type(exc).__name__}") from exc

    async def _send(self, body: dict[str, str], headers: dict[str, str]) -> httpx.Response:
        """POST a synthesis, its response streamed; sent once more, on a new connection, when the kept-alive
        connection it went out on was closed before any answer (a TTS pod stopping closes its idle
        connections; one pooled just then is lost under the request, which nothing has answered)."""
        request = self._client.build_request("POST", "/v1/audio/speech", json=body, headers=headers)
        try:
            return await self._client.send(request, stream=True)
        except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError):
            return await self._client.send(request, stream=True)

    async def check(self, within_s: float = READY_CHECK_S) -> tuple[bool, str]:
        """Readiness of the TTS service: (ok, detail), within `within_s` in all; never raises."""
        with anyio.move_on_after(within_s):
            try:
                response = await self._client.get("/ready", timeout=within_s)
            except httpx.HTTPError as exc:
                return False, f"{self.base_url} unreachable: {type(exc).__name__}"
            if response.status_code != 200:
                return False, f"{self.base_url}/ready answered {response.status_code}"
            return True, f"{self.base_url} ready"
        return False, f"{self.base_url}/ready gave no answer within {within_s:g} s"

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()
