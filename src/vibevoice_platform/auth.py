"""Optional API keys and a per-key rate limit for both services, as one ASGI middleware.

With keys configured, every HTTP request and WebSocket handshake needs `Authorization: Bearer KEY`,
except the open paths: /health, /ready and /metrics stay open for probes and scrapers (the Helm chart
keeps them, and /docs, off the Ingress). A refused HTTP request, and a refused WebSocket handshake, get
401 with OpenAI's error body. Keys are compared by digest in constant time and never logged or stored
as they are.

The rate limit is a token bucket per key, in each process (N replicas allow N times the rate) unless
the service shares one through a store (the agent's Redis, agent/redis_store.py): each
HTTP request to a limited path, and each turn message on a limited WebSocket (the agent's `user.text`;
for the TTS, each session), takes a token; without one an HTTP request is answered 429 with
Retry-After and OpenAI's error body, a WebSocket turn with an `error` message. Without keys there is no
key to count by, so the limit is off (the start-up log says so).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import re
import time
from collections.abc import Callable, Iterable
from typing import Protocol

from fastapi import FastAPI
from pydantic import SecretStr
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket

from vibevoice_platform.api import error_response

logger = logging.getLogger(__name__)
OPEN_PATHS = frozenset({"/health", "/ready", "/metrics"})


class KeyRing:
    """The accepted keys, held as SHA-256 digests; a key is named by a short digest of it."""

    def __init__(self, keys: Iterable[str]) -> None:
        self._digests = {hashlib.sha256(key.encode()).digest() for key in keys}

    @classmethod
    def parse(cls, secret: SecretStr | None) -> KeyRing:
        """The keys of a secret: one per line or comma-separated (blanks ignored)."""
        text = "" if secret is None else secret.get_secret_value()
        return cls(key for key in re.split(r"[\s,]+", text) if key)

    def __bool__(self) -> bool:
        return bool(self._digests)

    def identify(self, authorization: str | None) -> str | None:
        """The name of the key in an `Authorization: Bearer KEY` header, or None if it is not accepted."""
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None
        digest = hashlib.sha256(token.encode()).digest()
        # Every known digest is compared, so the time taken says nothing about which one matched.
        matched = [hmac.compare_digest(digest, known) for known in self._digests]
        return digest.hex()[:12] if any(matched) else None


class Limiter(Protocol):
    """A per-key rate limit: RateLimiter in this process, or one replicas share (the agent's Redis)."""

    async def acquire(self, key: str) -> float:
        """0 when `key` may go now (its request is counted), else the seconds until it may."""
        ...


class RateLimiter:
    """A token bucket per key in this process: `per_second` tokens a second, at most `burst` saved up."""

    def __init__(self, per_second: float, burst: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_second
        self.burst = float(burst)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str) -> float:
        """0 when `key` may go now (a token is taken), else the seconds until it may."""
        now = self._clock()
        tokens, since = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - since) * self.rate)
        if tokens >= 1:
            self._buckets[key] = (tokens - 1, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1 - tokens) / self.rate

    async def acquire(self, key: str) -> float:
        """`take`, as a Limiter."""
        return self.take(key)


class ApiKeyMiddleware:
    """Refuses requests without an accepted key, and turns over their key's rate on the limited paths.

    A turn is an HTTP request to a limited path, or on a limited WebSocket path each text message of
    type `ws_turn_type`; a WebSocket turn over the rate is answered with an `error` message and never
    reaches the app (the socket stays open). Without `ws_turn_type` a WebSocket counts once, at connect.
    """

    def __init__(
        self,
        app: ASGIApp,
        keys: KeyRing,
        limiter: Limiter | None = None,
        limited: frozenset[str] = frozenset(),
        ws_turn_type: str | None = None,
    ) -> None:
        self.app = app
        self._keys = keys
        self._limiter = limiter
        self._limited = limited
        self._ws_turn_type = ws_turn_type

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        name = self._keys.identify(Headers(scope=scope).get("authorization"))
        if name is None:
            message = "a valid API key is required (Authorization: Bearer KEY)"
            await _refuse(scope, receive, send, status=401, code="invalid_api_key", message=message)
            return
        limiter = self._limiter
        if limiter is None or scope["path"] not in self._limited:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket" and self._ws_turn_type is not None:
            await self.app(scope, self._counting(limiter, name, receive, send), send)
        elif (wait_s := await limiter.acquire(name)) > 0:
            retry = str(math.ceil(wait_s))
            await _refuse(
                scope,
                receive,
                send,
                status=429,
                code="rate_limit_exceeded",
                message=_over_rate(wait_s),
                retry_after=retry,
            )
        else:
            await self.app(scope, receive, send)

    def _counting(self, limiter: Limiter, name: str, receive: Receive, send: Send) -> Receive:
        """A WebSocket's `receive` whose turn messages each take one of `name`'s tokens."""

        async def receive_within_rate() -> Message:
            while True:
                message = await receive()
                if message["type"] != "websocket.receive" or not self._is_turn(message.get("text")):
                    return message
                wait_s = await limiter.acquire(name)
                if wait_s <= 0:
                    return message
                error = {"type": "error", "code": "rate_limit_exceeded", "message": _over_rate(wait_s)}
                await send({"type": "websocket.send", "text": json.dumps(error)})

        return receive_within_rate

    def _is_turn(self, text: str | None) -> bool:
        try:
            message = json.loads(text or "")
        except ValueError:
            return False  # the app answers malformed messages itself
        return isinstance(message, dict) and message.get("type") == self._ws_turn_type


def _over_rate(wait_s: float) -> str:
    return f"this API key's rate limit is reached: retry in {math.ceil(wait_s)} s"


async def _refuse(
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    status: int,
    code: str,
    message: str,
    retry_after: str | None = None,
) -> None:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {"Retry-After": retry_after or "1"}
    error_type = "invalid_request_error" if status == 401 else "rate_limit_error"
    response = error_response(status, message, error_type=error_type, code=code, headers=headers)
    if scope["type"] == "websocket":  # the handshake is answered with the status and the body
        await WebSocket(scope, receive, send).send_denial_response(response)
    else:
        await response(scope, receive, send)


def protect(
    app: FastAPI,
    keys: SecretStr | None,
    limiter: Limiter | None = None,
    limited: frozenset[str] = frozenset(),
    ws_turn_type: str | None = None,
) -> None:
    """Require API keys on `app` when any are configured; with none it stays open (and unlimited)."""
    ring = KeyRing.parse(keys)
    if limiter is not None and not ring:
        logger.warning("the per-key rate limit is off: no API keys are configured to count by")
    if ring:
        app.add_middleware(
            ApiKeyMiddleware, keys=ring, limiter=limiter, limited=limited, ws_turn_type=ws_turn_type
        )
