"""The job queue sends tasks by name through a real broker, in-process and on Redis streams."""

import asyncio
from uuid import uuid4

import pytest
from taskiq import AsyncResultBackend, InMemoryBroker
from taskiq.api import run_receiver_task

from adapters.jobs.broker import build_broker
from adapters.jobs.health import RedisBrokerProbe
from adapters.jobs.queue import TaskiqJobQueue
from domain.errors import DependencyUnavailable


async def test_an_enqueued_task_runs_in_process_with_its_arguments() -> None:
    broker = InMemoryBroker(await_inplace=True)
    seen: list[str] = []

    async def remember(account_id: str) -> None:
        seen.append(account_id)

    broker.register_task(remember, task_name="remember")
    await broker.startup()
    await TaskiqJobQueue(broker).enqueue("remember", "job-1", account_id="a-1")
    await broker.shutdown()
    assert seen == ["a-1"]


async def test_a_task_sent_by_name_reaches_a_worker_over_redis_streams(redis_url: str) -> None:
    broker = build_broker(redis_url, queue_name=f"mailroom-test-{uuid4().hex[:8]}")
    done = asyncio.Event()
    seen: list[str] = []

    async def remember(account_id: str) -> str:
        seen.append(account_id)
        done.set()
        return f"synced {account_id}"

    broker.register_task(remember, task_name="remember")
    await broker.startup()
    worker = asyncio.create_task(run_receiver_task(broker))
    try:
        job_id = uuid4().hex
        await TaskiqJobQueue(broker).enqueue("remember", job_id, account_id="a-2")
        await asyncio.wait_for(done.wait(), timeout=10)
        result = await broker.result_backend.get_result(job_id) if await _ready(broker.result_backend, job_id) else None
    finally:
        worker.cancel()
        await broker.shutdown()
    assert seen == ["a-2"]
    assert result is not None
    assert result.return_value == "synced a-2"


async def _ready(backend: AsyncResultBackend[object], job_id: str) -> bool:
    for _ in range(50):
        if await backend.is_result_ready(job_id):
            return True
        await asyncio.sleep(0.1)
    return False


async def test_the_broker_probe_pings_redis(redis_url: str) -> None:
    await RedisBrokerProbe(redis_url).check()
    with pytest.raises(DependencyUnavailable):
        await RedisBrokerProbe("redis://127.0.0.1:9/0").check()
