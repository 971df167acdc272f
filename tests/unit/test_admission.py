"""app.admission: a bounded number at once, a bounded queue, a bounded wait; refusals are `Busy`."""

import asyncio

import pytest

from app.admission import Admission, Busy


def test_callers_beyond_the_limit_wait_their_turn_and_the_queue_is_bounded():
    async def scenario():
        admission = Admission(limit=1, max_waiting=1, max_wait_s=5)
        order, release = [], asyncio.Event()

        async def caller(name, hold=False):
            async with admission.slot():
                order.append(name)
                if hold:
                    await release.wait()

        first = asyncio.create_task(caller("first", hold=True))
        await asyncio.sleep(0.01)
        second = asyncio.create_task(caller("second"))
        await asyncio.sleep(0.01)
        assert (admission.running, admission.waiting) == (1, 1)
        with pytest.raises(Busy, match="1 requests are already waiting") as refused:
            await caller("third")
        assert refused.value.retry_after_s > 0
        release.set()
        await asyncio.gather(first, second)
        assert order == ["first", "second"] and (admission.running, admission.waiting) == (0, 0)
        await caller("fourth")  # free again
        assert order[-1] == "fourth"

    asyncio.run(scenario())


def test_a_caller_that_waits_too_long_is_told_to_retry_and_leaves_the_queue():
    async def scenario():
        admission = Admission(limit=1, max_waiting=5, max_wait_s=0.05)
        release = asyncio.Event()

        async def holder():
            async with admission.slot():
                await release.wait()

        task = asyncio.create_task(holder())
        await asyncio.sleep(0.01)
        with pytest.raises(Busy, match="no turn came within 0 s"):
            async with admission.slot():
                pass
        assert admission.waiting == 0
        release.set()
        await task
        async with admission.slot():
            assert admission.running == 1

    asyncio.run(scenario())
