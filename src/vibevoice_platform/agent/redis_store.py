"""The agent's shared state in Redis: conversation histories and the per-key rate limit.

Every call is bounded by the store's timeout and never retried, so a Redis that is down or slow costs
a turn at most that long; the caller decides what a failure means (a turn without its history, the
limit counted in the pod). Nothing here logs the URL as given: it may hold a password.

Keys: `vibevoice:agent:history:SESSION` is a list of JSON messages, trimmed to the last `max_messages`
and expiring `ttl_s` after the last turn; `vibevoice:agent:rate:KEY` holds the theoretical arrival
time of GCRA (the generic cell rate algorithm, a token bucket kept as one number). Redis 5 or later
(or Valkey): the rate script reads the server's clock before it writes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Literal, cast
from urllib.parse import urlsplit

import anyio
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from vibevoice_platform.agent.llm import Message
from vibevoice_platform.agent.sessions import SessionStore, SessionStoreError
from vibevoice_platform.agent.settings import AgentSettings
from vibevoice_platform.auth import RateLimiter

HISTORY_PREFIX = "vibevoice:agent:history:"
RATE_PREFIX = "vibevoice:agent:rate:"


class _StoredMessage(BaseModel):
    """A history entry as read back (the store is shared: what it returns is checked)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    role: Literal["user", "assistant"]
    content: str


# GCRA, atomic in one script: the key admits a request when its theoretical arrival time (TAT), one
# interval further on, is within the burst's tolerance of now; Redis's clock, so the pods' clocks do not
# matter. Returns the seconds to wait as a string (Redis would truncate a Lua number to an integer).
_GCRA = """
local now = redis.call('TIME')
now = tonumber(now[1]) + tonumber(now[2]) / 1000000
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = now
local stored = redis.call('GET', KEYS[1])
if stored then tat = math.max(tonumber(stored), now) end
local next_tat = tat + interval
local wait = next_tat - tolerance - now
if wait > 0 then return tostring(wait) end
redis.call('SET', KEYS[1], string.format('%.6f', next_tat), 'PX', math.ceil((next_tat - now) * 1000))
return '0'
"""


def connect(url: str, password: SecretStr | None, timeout_s: float) -> Redis:
    """A client of the store at `url` (a password in the URL wins over `password`). It connects on
    first use; each connection and each reply waits at most `timeout_s`, and nothing is retried."""
    return Redis.from_url(
        url,
        password=password.get_secret_value() if password else None,
        socket_connect_timeout=timeout_s,
        socket_timeout=timeout_s,
        retry=Retry(NoBackoff(), 0),
        decode_responses=True,
        client_name="vibevoice-agent",
    )


def shared_redis(settings: AgentSettings) -> Bounded | None:
    """The store the settings name (its client not yet connected), or None without a URL."""
    if not settings.session_store_url:
        return None
    timeout_s = settings.session_store_timeout_s
    client = connect(settings.session_store_url, settings.session_store_password, timeout_s)
    return Bounded(client, describe(settings.session_store_url), timeout_s)


def describe(url: str) -> str:
    """The store's address without its credentials, e.g. `redis://redis.db:6379/0`."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"unix://{parts.path}"
    host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


class Bounded:
    """Calls to one Redis, each within `timeout_s`, any failure turned into SessionStoreError."""

    def __init__(self, client: Redis, where: str, timeout_s: float) -> None:
        self.client = client
        self.where = where
        self.timeout_s = timeout_s

    @contextmanager
    def call(self, operation: str) -> Iterator[None]:
        """Bound the calls in the block; raise SessionStoreError naming `operation` if they fail."""
        try:
            with anyio.fail_after(self.timeout_s):
                yield
        except TimeoutError:
            raise SessionStoreError(f"{operation}: no answer in {self.timeout_s:g} s") from None
        except (RedisError, OSError, ValidationError) as exc:
            raise SessionStoreError(f"{operation}: {exc}") from exc


class RedisSessions(SessionStore):
    """Histories every agent replica reads and writes."""

    def __init__(self, redis: Bounded, max_messages: int, ttl_s: int) -> None:
        super().__init__(max_messages, ttl_s)
        self._redis = redis
        self.name = f"redis {redis.where}"

    async def history(self, session_id: str) -> list[Message]:
        with self._redis.call("read history"):
            stored = await self._redis.client.lrange(HISTORY_PREFIX + session_id, 0, -1)
            messages = (_StoredMessage.model_validate_json(item) for item in stored)
            return [{"role": m.role, "content": m.content} for m in messages]

    async def _append(self, session_id: str, messages: list[Message]) -> None:
        key = HISTORY_PREFIX + session_id
        with self._redis.call("record history"):
            async with self._redis.client.pipeline(transaction=True) as pipe:
                pipe.rpush(key, *(json.dumps(message) for message in messages))
                pipe.ltrim(key, -self.max_messages, -1)
                pipe.expire(key, int(self.ttl_s))
                await pipe.execute()

    async def check(self) -> tuple[bool, str]:
        try:
            with self._redis.call("ping"):
                await self._redis.client.ping()
        except SessionStoreError as exc:
            return False, f"{self.name}: {exc}"
        return True, f"{self.name}: reachable"

    async def aclose(self) -> None:
        await self._redis.client.aclose()


class RedisRateLimiter:
    """The per-key token bucket of auth.RateLimiter, shared by every replica through Redis. While the
    store fails, each key is counted in this process (`fallback`), as without a store, and
    `on_error` hears of each failure."""

    def __init__(
        self,
        redis: Bounded,
        fallback: RateLimiter,
        on_error: Callable[[str, SessionStoreError], None],
    ) -> None:
        self._redis = redis
        self._fallback = fallback
        self._on_error = on_error
        self._script = redis.client.register_script(_GCRA)
        interval = 1 / fallback.rate
        self._args = (interval, fallback.burst * interval)

    async def acquire(self, key: str) -> float:
        """0 when `key` may go now (its turn is counted), else the seconds until it may."""
        try:
            with self._redis.call("rate limit"):
                wait = await self._script(keys=[RATE_PREFIX + key], args=list(self._args))
                return float(cast(str, wait))
        except SessionStoreError as exc:
            self._on_error("rate_limit", exc)
            return await self._fallback.acquire(key)
