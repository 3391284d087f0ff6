"""The key ring and the token bucket of vibevoice_platform.auth, on a clock the test moves."""

from __future__ import annotations

from pydantic import SecretStr

from vibevoice_platform.auth import KeyRing, RateLimiter


def test_keys_parse_from_lines_and_commas() -> None:
    ring = KeyRing.parse(SecretStr(" one,two\n\nthree \n"))
    names = {key: ring.identify(f"Bearer {key}") for key in ("one", "two", "three")}
    assert None not in names.values()
    assert len(set(names.values())) == 3
    assert all(key not in str(name) for key, name in names.items())
    assert ring.identify("Bearer four") is None
    assert ring.identify("bearer  one ") == names["one"]
    assert ring.identify("Basic one") is None
    assert ring.identify(None) is None


def test_no_keys_is_an_empty_ring() -> None:
    assert not KeyRing.parse(None)
    assert not KeyRing.parse(SecretStr(" , \n"))


class Clock:
    """A clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_the_burst_then_the_rate_per_key() -> None:
    clock = Clock()
    limiter = RateLimiter(per_second=0.1, burst=2, clock=clock)  # a token every 10 s
    assert [limiter.take("a") for _ in range(2)] == [0.0, 0.0]
    assert limiter.take("a") == 10.0
    assert limiter.take("b") == 0.0
    clock.now += 5
    assert limiter.take("a") == 5.0
    clock.now += 5
    assert limiter.take("a") == 0.0
    clock.now += 3600
    assert [limiter.take("a") for _ in range(3)] == [0.0, 0.0, 10.0]  # never more than the burst saved
