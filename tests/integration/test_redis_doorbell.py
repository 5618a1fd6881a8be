"""Two processes on one Redis, each with its own RedisDoorbell: a commit's ring in one wakes the listeners of the
other. Each test rings on channels of its own, so runs sharing the Redis do not hear one another."""

import logging
from collections.abc import AsyncIterator
from uuid import uuid4

import pytest
from redis.asyncio import Redis

from adapters.signals.local import EVERYTHING
from adapters.signals.redis import RedisDoorbell
from tests.conftest import require_service

A_WHILE = 10.0
NOT_LONG = 0.05


@pytest.fixture
def redis_url() -> str:
    return require_service("redis", "MAILROOM_TEST_REDIS_URL", "run redis-server")


@pytest.fixture
def prefix() -> str:
    return f"test:{uuid4()}:"


@pytest.fixture
async def doorbells(redis_url: str, prefix: str) -> AsyncIterator[tuple[RedisDoorbell, RedisDoorbell]]:
    api, worker = RedisDoorbell(redis_url, prefix), RedisDoorbell(redis_url, prefix)
    yield api, worker
    await api.close()
    await worker.close()


async def test_a_ring_in_one_process_wakes_the_listeners_of_both(
    doorbells: tuple[RedisDoorbell, RedisDoorbell],
) -> None:
    api, worker = doorbells
    async with api.listen("changes") as elsewhere, worker.listen("changes") as here:
        await worker.ring("changes", "tenant-1")
        assert await elsewhere.wait(A_WHILE) == {"tenant-1"}
        assert await here.wait(A_WHILE) == {"tenant-1"}


async def test_a_listener_hears_its_topic_only(doorbells: tuple[RedisDoorbell, RedisDoorbell]) -> None:
    api, worker = doorbells
    async with api.listen("accounts") as accounts:
        await worker.ring("changes", "tenant-1")
        await worker.ring("accounts", "account-1")
        assert await accounts.wait(A_WHILE) == {"account-1"}


async def test_after_the_subscription_dropped_listeners_are_told_to_re_read_everything(
    doorbells: tuple[RedisDoorbell, RedisDoorbell], redis_url: str, prefix: str
) -> None:
    """Rings published while the subscriber reconnects are lost; the listeners learn that they may have been."""
    api, worker = doorbells
    async with api.listen("changes") as listener:
        admin = Redis.from_url(redis_url, decode_responses=True)
        try:
            clients = await admin.client_list(_type="pubsub")
            ours = [client["id"] for client in clients if client["name"] == f"{prefix}doorbell"]
            assert len(ours) == 1
            await admin.client_kill_filter(_id=ours[0])
        finally:
            await admin.aclose()
        assert await listener.wait(A_WHILE) == {EVERYTHING}
        await worker.ring("changes", "tenant-1")
        assert await listener.wait(A_WHILE) == {"tenant-1"}


async def test_with_redis_unreachable_a_ring_is_dropped_and_a_listener_still_opens(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The commit already happened: the request must not fail for its ring, and the URL's password is not logged."""
    doorbell = RedisDoorbell("redis://:s3cret@127.0.0.1:1/0", f"test:{uuid4()}:")
    try:
        with caplog.at_level(logging.INFO, logger="mailroom.signals"):
            await doorbell.ring("changes", "tenant-1")
            async with doorbell.listen("changes") as listener:
                assert await listener.wait(NOT_LONG) == set()
        assert "Redis did not take a ring" in caplog.text
        assert "s3cret" not in caplog.text
    finally:
        await doorbell.close()


async def test_deployments_on_other_databases_of_one_server_do_not_wake_each_other(redis_url: str) -> None:
    """Pub/sub channels belong to the server, not to a database."""
    base = redis_url.rsplit("/", 1)[0]
    ours, theirs, also_ours = (
        RedisDoorbell.for_database(f"{base}/13"),
        RedisDoorbell.for_database(f"{base}/12"),
        RedisDoorbell.for_database(f"{base}/13"),
    )
    try:
        async with ours.listen("changes") as listener:
            await theirs.ring("changes", "tenant-of-another-deployment")
            await also_ours.ring("changes", "tenant-1")
            assert await listener.wait(A_WHILE) == {"tenant-1"}
    finally:
        for doorbell in (ours, theirs, also_ours):
            await doorbell.close()
