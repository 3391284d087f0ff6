"""Admission control: a fixed number of synthesis slots and a bounded queue in front of them.

A request takes a slot at once if one is free, waits in the queue if there is room (up to a timeout),
and is refused with `OverloadedError` otherwise, so load beyond capacity becomes 429s and never an
unbounded backlog. A waiter that is cancelled (the client hung up) leaves the queue.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import anyio

from vibevoice_platform.tts.errors import OverloadedError


class Slot:
    """A held synthesis slot; `release` is idempotent."""

    def __init__(self, release: Callable[[], None]) -> None:
        self._release: Callable[[], None] | None = release

    def release(self) -> None:
        """Give the slot back (once)."""
        if self._release is not None:
            self._release, release = None, self._release
            release()


class Admission:
    """`max_concurrency` slots plus at most `max_queue` waiters."""

    def __init__(
        self,
        max_concurrency: int,
        max_queue: int,
        queue_timeout_s: float,
        on_change: Callable[[int, int], None] | None = None,
    ) -> None:
        self.max_concurrency = max_concurrency
        self.max_queue = max_queue
        self._timeout = queue_timeout_s
        self._slots = anyio.Semaphore(max_concurrency)
        self._waiting = 0
        self._on_change = on_change or (lambda active, waiting: None)

    @property
    def active(self) -> int:
        """Slots in use."""
        return self.max_concurrency - self._slots.value

    @property
    def waiting(self) -> int:
        """Requests queued for a slot."""
        return self._waiting

    def retry_after(self) -> int:
        """A Retry-After hint in whole seconds."""
        return max(1, math.ceil(self._timeout / 4))

    async def acquire(self) -> Slot:
        """Take a slot, waiting in the queue if there is room; raise OverloadedError otherwise."""
        try:
            self._slots.acquire_nowait()
        except anyio.WouldBlock:
            await self._wait_in_queue()
        self._notify()
        return Slot(self._release)

    async def _wait_in_queue(self) -> None:
        if self._waiting >= self.max_queue:
            raise OverloadedError(
                f"all {self.max_concurrency} synthesis slots and {self.max_queue} queue places are taken",
                retry_after=self.retry_after(),
            )
        self._waiting += 1
        self._notify()
        try:
            with anyio.fail_after(self._timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise OverloadedError(
                f"no synthesis slot became free within {self._timeout:g} s", retry_after=self.retry_after()
            ) from None
        finally:
            self._waiting -= 1

    def _release(self) -> None:
        self._slots.release()
        self._notify()

    def _notify(self) -> None:
        self._on_change(self.active, self._waiting)
