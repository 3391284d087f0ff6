"""`vibevoice-smoke`: is a deployment alive and really speaking?

Checks, in order, each printed with its timing: TTS health and readiness (waiting up to `--wait`
seconds in all for services still starting or not yet listening), one short synthesis that must be a
valid 24 kHz mono PCM16 WAV of plausible length and not silent, then, with `--agent-url`, the agent's
health, readiness and one spoken turn over SSE (text, non-silent audio, metrics, done, no error).
Against protected services it sends the API key of `--api-key-file` or `$VIBEVOICE_API_KEY` (the same
key to both). Exit 0 when all pass, 1 at the first failure with what was wrong, 2 for bad usage (a URL
without http:// or https://, an unreadable key file), in one line.
"""

from __future__ import annotations

import argparse
import base64
import sys
import time
from collections.abc import Callable, Sequence

import httpx
from httpx_sse import EventSource, SSEError

from vibevoice_platform.audio import WAV_HEADER_SIZE, duration_seconds, parse_wav_header, rms_dbfs
from vibevoice_platform.clients import ApiKeyError, add_api_key_argument, api_key, bearer, url_argument
from vibevoice_platform.config import OneLineParser

PROG = "vibevoice-smoke"
SMOKE_TEXT = "Smoke test. The quick brown fox jumps over the lazy dog."
MIN_AUDIO_S, MAX_AUDIO_S = 0.5, 30.0
SILENCE_DBFS = -50.0


class SmokeFailure(Exception):
    """A check failed; the message says what was expected and what came back."""


def _expect_status(response: httpx.Response, status: int = 200) -> None:
    if response.status_code != status:
        request = response.request
        raise SmokeFailure(
            f"{request.method} {request.url} answered {response.status_code}, expected {status}: "
            + response.text[:300]
        )


def _check_audio(pcm: bytes, what: str) -> str:
    seconds = duration_seconds(len(pcm))
    if not MIN_AUDIO_S <= seconds <= MAX_AUDIO_S:
        raise SmokeFailure(f"{what}: {seconds:.2f} s of audio, expected {MIN_AUDIO_S}-{MAX_AUDIO_S} s")
    loudness = rms_dbfs(pcm)
    if loudness < SILENCE_DBFS:
        raise SmokeFailure(f"{what}: audio is silent ({loudness:.1f} dBFS)")
    return f"{seconds:.2f} s of audio at {loudness:.1f} dBFS"


def wait_for(client: httpx.Client, url: str, deadline: float, wait_s: float) -> None:
    """Poll `url` until it answers 200 or the deadline passes (a refused connection is a service still
    starting); the last answer is in the failure."""
    while True:
        try:
            response = client.get(url)
            if response.status_code == 200:
                return
            last = f"{response.status_code} {response.text[:300]}"
        except httpx.HTTPError as exc:
            last = f"{type(exc).__name__}: {exc}"
        if time.monotonic() >= deadline:
            raise SmokeFailure(f"{url} did not answer 200 within --wait {wait_s:g} s (last: {last})")
        time.sleep(0.25)


def check_speech(client: httpx.Client, base: str) -> str:
    """One WAV synthesis: valid header, plausible duration, not silent."""
    body = {"model": "tts-1", "input": SMOKE_TEXT, "voice": "alloy", "response_format": "wav"}
    response = client.post(f"{base}/v1/audio/speech", json=body)
    _expect_status(response)
    audio = response.content
    try:
        rate, channels, bits = parse_wav_header(audio[:WAV_HEADER_SIZE])
    except ValueError as exc:
        raise SmokeFailure(f"speech: not a WAV stream ({exc})") from None
    if (rate, channels, bits) != (24_000, 1, 16):
        raise SmokeFailure(
            f"speech: WAV is {rate} Hz, {channels} channel(s), {bits} bit; expected 24000/1/16"
        )
    return _check_audio(audio[WAV_HEADER_SIZE:], "speech")


def check_turn(client: httpx.Client, base: str) -> str:
    """One agent turn over SSE: text, non-silent audio, metrics and done, no error."""
    seen: dict[str, int] = {}
    pcm = bytearray()
    metrics: dict[str, float] = {}
    with client.stream("POST", f"{base}/v1/agent/turn", json={"text": SMOKE_TEXT}) as response:
        if response.status_code != 200:
            response.read()
            _expect_status(response)
        try:
            events = list(EventSource(response).iter_sse())
        except SSEError as exc:
            raise SmokeFailure(f"agent turn: {exc}") from exc
        for event in events:
            seen[event.event] = seen.get(event.event, 0) + 1
            if event.event == "error":
                raise SmokeFailure(f"agent turn: error event {event.data}")
            if event.event == "audio":
                pcm += base64.b64decode(event.json()["audio"])
            elif event.event == "metrics":
                metrics = event.json()
    missing = [name for name in ("text", "audio", "metrics", "done") if name not in seen]
    if missing:
        raise SmokeFailure(f"agent turn: no {', '.join(missing)} event(s); got {seen}")
    audio = _check_audio(bytes(pcm), "agent turn")
    return f"{audio}, first audio after {metrics.get('turn_ttfa_ms')} ms"


def _parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog=PROG, description="Is a deployment alive and really speaking?")
    parser.add_argument("--tts-url", required=True, type=url_argument, help="base URL of the TTS service")
    parser.add_argument("--agent-url", type=url_argument, help="base URL of the agent service (optional)")
    parser.add_argument(
        "--wait",
        type=float,
        default=60.0,
        help="seconds to wait for the services to come up [60]",
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="per-request timeout in seconds [30]")
    add_api_key_argument(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the checks; 0 when all pass, 1 at the first failure."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        key = api_key(args.api_key_file)
    except ApiKeyError as exc:
        parser.error(str(exc))
    tts, agent = args.tts_url, args.agent_url or ""
    deadline = time.monotonic() + args.wait  # one budget for every service to come up

    def waiting(url: str, answer: str) -> Callable[[httpx.Client], str]:
        def check(client: httpx.Client) -> str:
            wait_for(client, url, deadline, args.wait)
            return answer

        return check

    checks: list[tuple[str, Callable[[httpx.Client], str]]] = [
        ("tts health", waiting(f"{tts}/health", "ok")),
        ("tts ready", waiting(f"{tts}/ready", "ready")),
        ("tts speech", lambda c: check_speech(c, tts)),
    ]
    if agent:
        checks += [
            ("agent health", waiting(f"{agent}/health", "ok")),
            ("agent ready", waiting(f"{agent}/ready", "ready")),
            ("agent turn", lambda c: check_turn(c, agent)),
        ]
    with httpx.Client(timeout=args.timeout, headers=bearer(key)) as client:
        for name, check in checks:
            started = time.perf_counter()
            try:
                detail = check(client)
            except (SmokeFailure, httpx.HTTPError) as exc:
                print(f"FAIL {name}: {exc}", flush=True)
                return 1
            print(f"ok   {name} ({(time.perf_counter() - started) * 1000:.0f} ms): {detail}", flush=True)
    print("smoke test passed", flush=True)
    return 0


def run() -> None:
    """Console entry point."""
    sys.exit(main())
