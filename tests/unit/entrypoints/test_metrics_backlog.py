"""The worker's metrics server collects in a thread of its own: the backlog is read on the worker's event loop, and
a read that hangs or fails costs the scrape those two gauges, never the scrape."""

import asyncio

from prometheus_client import CollectorRegistry, generate_latest

from application.backlog import Backlog
from entrypoints.metrics import BacklogCollector, backlog_from_loop


def scrape(read: BacklogCollector) -> str:
    registry = CollectorRegistry()
    registry.register(read)
    return generate_latest(registry).decode()


async def test_the_backlog_is_read_on_the_workers_loop_from_the_scrape_thread() -> None:
    loop = asyncio.get_running_loop()
    read_on: list[asyncio.AbstractEventLoop] = []

    async def read() -> Backlog:
        read_on.append(asyncio.get_running_loop())
        return Backlog(webhook_deliveries_due=4, accounts_sync_failing=1)

    text = await asyncio.to_thread(scrape, BacklogCollector(backlog_from_loop(read, loop)))
    assert read_on == [loop]
    assert "mailroom_webhook_deliveries_due 4.0" in text
    assert "mailroom_accounts_sync_failing 1.0" in text


async def test_a_slow_or_failing_read_leaves_the_gauges_out() -> None:
    loop = asyncio.get_running_loop()

    async def hangs() -> Backlog:
        await asyncio.sleep(60)
        raise AssertionError("not reached")

    async def fails() -> Backlog:
        raise ConnectionRefusedError

    for read in (backlog_from_loop(hangs, loop, timeout=0.1), backlog_from_loop(fails, loop)):
        text = await asyncio.to_thread(scrape, BacklogCollector(read))
        assert "mailroom_webhook_deliveries_due" not in text
