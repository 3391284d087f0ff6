from __future__ import annotations

import anyio
import pytest

from vibevoice_platform.tts.errors import OverloadedError
from vibevoice_platform.tts.limits import Admission

pytestmark = pytest.mark.anyio


async def test_slots_then_queue_then_refusal() -> None:
    changes: list[tuple[int, int]] = []
    admission = Admission(2, 1, 5.0, on_change=lambda a, w: changes.append((a, w)))
    first, second = await admission.acquire(), await admission.acquire()
    assert admission.active == 2
    got: list[str] = []

    async def queued() -> None:
        slot = await admission.acquire()
        got.append("third")
        slot.release()

    async with anyio.create_task_group() as tg:
        tg.start_soon(queued)
        await anyio.wait_all_tasks_blocked()
        assert admission.waiting == 1
        with pytest.raises(OverloadedError) as refused:
            await admission.acquire()
        assert refused.value.retry_after >= 1
        first.release()
        first.release()  # idempotent
    second.release()
    assert got == ["third"]
    assert admission.active == 0
    assert admission.waiting == 0
    assert (2, 1) in changes
    assert changes[-1] == (0, 0)


async def test_queue_wait_times_out_as_overload() -> None:
    admission = Admission(1, 4, 0.05)
    held = await admission.acquire()
    with pytest.raises(OverloadedError, match=r"within 0\.05 s"):
        await admission.acquire()
    assert admission.waiting == 0
    held.release()


async def test_cancelled_waiter_leaves_the_queue() -> None:
    admission = Admission(1, 1, 5.0)
    held = await admission.acquire()
    with anyio.move_on_after(0.05):
        await admission.acquire()
    assert admission.waiting == 0
    held.release()
    assert admission.active == 0
