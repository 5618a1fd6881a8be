"""The in-process doorbell: what a listener hears, from when, and that leaving stops it."""

import asyncio

from adapters.signals.local import EVERYTHING, LocalDoorbell

A_WHILE = 5.0
NOT_LONG = 0.01


async def test_a_listener_hears_the_rings_of_its_topic_only() -> None:
    doorbell = LocalDoorbell()
    async with doorbell.listen("changes") as listener:
        await doorbell.ring("accounts", "account-1")
        await doorbell.ring("changes", "tenant-1")
        assert await listener.wait(A_WHILE) == {"tenant-1"}


async def test_rings_before_the_listener_entered_are_not_heard() -> None:
    doorbell = LocalDoorbell()
    await doorbell.ring("changes", "tenant-1")
    async with doorbell.listen("changes") as listener:
        assert await listener.wait(NOT_LONG) == set()


async def test_a_wait_with_nothing_rung_ends_empty() -> None:
    async with LocalDoorbell().listen("changes") as listener:
        assert await listener.wait(NOT_LONG) == set()


async def test_keys_gather_between_waits_and_each_is_heard_once() -> None:
    doorbell = LocalDoorbell()
    async with doorbell.listen("changes") as listener:
        for key in ("tenant-1", "tenant-2", "tenant-1"):
            await doorbell.ring("changes", key)
        assert await listener.wait(A_WHILE) == {"tenant-1", "tenant-2"}
        assert await listener.wait(NOT_LONG) == set()
        await doorbell.ring("changes", "tenant-3")
        assert await listener.wait(A_WHILE) == {"tenant-3"}


async def test_a_waiting_listener_wakes_on_a_ring() -> None:
    doorbell = LocalDoorbell()
    async with doorbell.listen("changes") as listener:
        waiting = asyncio.create_task(listener.wait(A_WHILE))
        await asyncio.sleep(0)  # it is waiting now
        await doorbell.ring("changes", "tenant-1")
        assert await waiting == {"tenant-1"}


async def test_two_listeners_both_hear_a_ring() -> None:
    doorbell = LocalDoorbell()
    async with doorbell.listen("changes") as first, doorbell.listen("changes") as second:
        await doorbell.ring("changes", "tenant-1")
        assert await first.wait(A_WHILE) == {"tenant-1"}
        assert await second.wait(A_WHILE) == {"tenant-1"}


async def test_a_listener_that_left_hears_nothing_more() -> None:
    doorbell = LocalDoorbell()
    async with doorbell.listen("changes") as staying:
        async with doorbell.listen("changes") as leaving:
            pass
        await doorbell.ring("changes", "tenant-1")
        assert await leaving.wait(NOT_LONG) == set()
        assert await staying.wait(A_WHILE) == {"tenant-1"}


async def test_too_many_keys_collapse_into_everything() -> None:
    """A stalled listener holds a bounded set however much is rung; told EVERYTHING, it re-reads the topic."""
    doorbell = LocalDoorbell(pending_limit=3)
    async with doorbell.listen("changes") as listener:
        for n in range(1000):
            await doorbell.ring("changes", f"tenant-{n}")
        assert await listener.wait(A_WHILE) == {EVERYTHING}
        await doorbell.ring("changes", "tenant-1")
        assert await listener.wait(A_WHILE) == {"tenant-1"}
