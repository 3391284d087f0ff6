"""`helm test` of the vibevoice chart: both services are up, and the TTS makes one tiny synthesis.

The chart runs this with `python3 -c` in the agent image, which has Python but no curl, so it uses the
standard library only. URLs come from VIBEVOICE_TEST_TTS_URL and VIBEVOICE_TEST_AGENT_URL (optional);
VIBEVOICE_TEST_API_KEY, when set, is sent as a Bearer token (the services require one with auth on).

A request that gets no HTTP answer (refused, timed out, unresolvable) or a 503 (a service that listens
but is still loading its engine, or draining) is tried again until the check's deadline
(VIBEVOICE_TEST_DEADLINE_S, 60 s by default): under an enforced NetworkPolicy a new pod is let through
about a second after it starts, and a first refusal is no verdict. Any other HTTP answer is final.
Every failure is printed; the exit status is 0 when all checks pass, else 1.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from array import array

TIMEOUT_S = 30.0
RETRY_PAUSE_S = 1.0
UNAVAILABLE = 503  # loading or draining: ask again
SAMPLE_RATE = 24_000
# Speech peaks far above this on the 16-bit scale; silence and near-silence stay below it.
MIN_PEAK = 500


class Unreachable(Exception):
    """A request got no HTTP answer: refused, timed out, unresolvable."""


def call(url: str, body: dict[str, str] | None = None) -> tuple[int, bytes]:
    """GET `url`, or POST `body` as JSON; the status and body, also for HTTP errors."""
    data = None if body is None else json.dumps(body).encode()
    headers = {} if data is None else {"Content-Type": "application/json"}
    if key := os.environ.get("VIBEVOICE_TEST_API_KEY"):
        headers["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(url, data=data, headers=headers)  # noqa: S310 (scheme checked in main)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError as error:
        reason = error.reason if isinstance(error, urllib.error.URLError) else error
        raise Unreachable(f"{request.get_method()} {url}: {reason}") from error


def call_until(deadline: float, url: str, body: dict[str, str] | None = None) -> tuple[int, bytes]:
    """`call`, tried again on no HTTP answer or a 503 while `deadline` (a monotonic time) is ahead."""
    attempt = 1
    while True:
        last_chance = time.monotonic() + RETRY_PAUSE_S >= deadline
        try:
            status, answer = call(url, body)
        except Unreachable as error:
            if last_chance:
                raise Unreachable(f"{error} (after {attempt} attempts)") from error
            print(f"wait {error}: attempt {attempt}, trying again")
        else:
            if status != UNAVAILABLE or last_chance:
                return status, answer
            print(f"wait {url}: answered {status} (not ready yet): attempt {attempt}, trying again")
        attempt += 1
        time.sleep(RETRY_PAUSE_S)


def check_up(base: str, deadline: float) -> list[str]:
    """Failures of /health and /ready at `base`."""
    failures = []
    for path in ("/health", "/ready"):
        status, body = call_until(deadline, base + path)
        if status == 200:
            print(f"ok   GET {base}{path}")
        else:
            failures.append(f"GET {base}{path} answered {status}: {body[:300]!r}")
    return failures


def check_speech(base: str, deadline: float) -> list[str]:
    """Failures of one tiny synthesis: 200, whole 16-bit samples, not silent."""
    url = base + "/v1/audio/speech"
    status, audio = call_until(deadline, url, {"model": "tts-1", "input": "hi", "response_format": "pcm"})
    if status != 200:
        return [f"POST {url} answered {status}: {audio[:300]!r}"]
    if not audio or len(audio) % 2:
        return [f"POST {url}: {len(audio)} bytes is not 16-bit PCM audio"]
    samples = array("h", audio)
    if sys.byteorder == "big":
        samples.byteswap()  # the stream is little-endian
    peak = max(abs(sample) for sample in samples)
    if peak < MIN_PEAK:
        return [f"POST {url}: {len(samples)} samples are silent (peak {peak} < {MIN_PEAK})"]
    print(f"ok   POST {url}: {len(samples) / SAMPLE_RATE:.2f} s of audio, peak {peak}")
    return []


def main() -> int:
    """Run every check against the URLs in the environment."""
    tts = os.environ["VIBEVOICE_TEST_TTS_URL"].rstrip("/")
    agent = os.environ.get("VIBEVOICE_TEST_AGENT_URL", "").rstrip("/")
    for url in filter(None, (tts, agent)):
        if not url.startswith(("http://", "https://")):
            print(f"FAIL {url!r} is not an http(s) URL")
            return 1
    deadline_s = float(os.environ.get("VIBEVOICE_TEST_DEADLINE_S", "60"))
    checks = [lambda d: check_up(tts, d), lambda d: check_speech(tts, d)]
    if agent:
        checks.append(lambda d: check_up(agent, d))
    failures: list[str] = []
    for check in checks:
        try:
            failures += check(time.monotonic() + deadline_s)
        except Unreachable as error:
            failures.append(str(error))
    for failure in failures:
        print(f"FAIL {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
