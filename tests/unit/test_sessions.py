"""The in-memory session store: histories capped in length, forgotten after their TTL, and at most
max_sessions of them, the least recently used going first."""

from __future__ import annotations

import pytest

from vibevoice_platform.agent.redis_store import describe
from vibevoice_platform.agent.sessions import MemorySessions

pytestmark = pytest.mark.anyio


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def exchange(n: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"q{n}"}, {"role": "assistant", "content": f"a{n}"}]


async def test_histories_keep_their_last_messages_and_expire() -> None:
    clock = Clock()
    sessions = MemorySessions(max_sessions=10, max_messages=3, ttl_s=60, clock=clock)
    for n in range(3):
        await sessions.record("s", f"q{n}", f"a{n}")
    assert await sessions.history("s") == [*exchange(1)[1:], *exchange(2)]
    await sessions.record("s", "interrupted before a word", "")  # an interrupt may leave no reply
    assert (await sessions.history("s"))[-1] == {"role": "user", "content": "interrupted before a word"}
    clock.now = 59.0
    assert await sessions.history("s") != []
    clock.now = 60.0
    assert await sessions.history("s") == []
    assert await sessions.history("never seen") == []


async def test_the_least_recently_used_session_goes_first() -> None:
    clock = Clock()
    sessions = MemorySessions(max_sessions=2, max_messages=4, ttl_s=60, clock=clock)
    for session in ("a", "b"):
        clock.now += 1
        await sessions.record(session, "q", "a")
    clock.now += 1
    await sessions.record("a", "q2", "a2")  # a is used again: b is now the oldest
    await sessions.record("c", "q", "a")
    assert [bool(await sessions.history(s)) for s in "abc"] == [True, False, True]


async def test_no_history_is_kept_when_none_is_sent() -> None:
    sessions = MemorySessions(max_sessions=2, max_messages=0, ttl_s=60)
    await sessions.record("s", "q", "a")
    assert await sessions.history("s") == []


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("redis://:s3cret@[::1]:6380/2", "redis://[::1]:6380/2"),
        ("rediss://agent:s3cret@redis.example/0", "rediss://redis.example/0"),
        ("unix://agent:s3cret@/run/redis.sock?db=1", "unix:///run/redis.sock"),
    ],
)
def test_a_store_is_named_without_its_credentials(url: str, named: str) -> None:
    assert describe(url) == named
