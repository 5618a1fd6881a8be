"""The revocation list on a real Redis, as two API processes share it, and in one process's memory: a session
ended in one is refused by the other at once, and forgotten when its access tokens have expired anyway."""

from datetime import timedelta
from uuid import uuid4

import pytest
from redis.asyncio import Redis

from adapters.auth.revocations import LocalRevokedSessions, RedisRevokedSessions
from adapters.memory.runtime import ManualClock
from domain.errors import DependencyUnavailable
from tests.conftest import require_service


@pytest.fixture
def redis_url() -> str:
    return require_service("redis", "MAILROOM_TEST_REDIS_URL", "run redis-server")


async def test_a_session_ended_in_one_process_is_refused_by_another(redis_url: str) -> None:
    prefix = f"test:{uuid4()}:"
    one = RedisRevokedSessions(Redis.from_url(redis_url), timedelta(minutes=15), prefix)
    other = RedisRevokedSessions(Redis.from_url(redis_url), timedelta(minutes=15), prefix)
    ended, alive = uuid4(), uuid4()
    try:
        assert not await other.is_revoked(ended)
        await one.revoke([ended])
        assert await other.is_revoked(ended)
        assert not await other.is_revoked(alive)
        ttl = await Redis.from_url(redis_url).ttl(f"{prefix}{ended.hex}")
        assert 15 * 60 <= ttl <= 15 * 60 + 1, "kept as long as an access token lives, no longer"
    finally:
        await one.close()
        await other.close()


async def test_keys_of_one_database_are_not_another_databases(redis_url: str) -> None:
    session = uuid4()
    mine = RedisRevokedSessions.for_database(redis_url, timedelta(minutes=1))
    elsewhere = RedisRevokedSessions.for_database(redis_url.rsplit("/", 1)[0] + "/14", timedelta(minutes=1))
    try:
        await mine.revoke([session])
        assert not await elsewhere.is_revoked(session)
    finally:
        await mine.close()
        await elsewhere.close()


async def test_redis_down_refuses_rather_than_lets_an_ended_session_through() -> None:
    unreachable = RedisRevokedSessions.for_database("redis://127.0.0.1:1/0", timedelta(minutes=1))
    try:
        with pytest.raises(DependencyUnavailable):
            await unreachable.is_revoked(uuid4())
        with pytest.raises(DependencyUnavailable):
            await unreachable.revoke([uuid4()])
    finally:
        await unreachable.close()


async def test_in_memory_an_entry_lasts_as_long_as_an_access_token() -> None:
    clock = ManualClock()
    revoked = LocalRevokedSessions(clock, timedelta(minutes=16))
    session = uuid4()
    await revoked.revoke([session])
    clock.advance(timedelta(minutes=15))
    assert await revoked.is_revoked(session)
    clock.advance(timedelta(minutes=2))
    assert not await revoked.is_revoked(session)
