"""Two API processes on one Redis share one budget per user: what one counted, the other sees. The login limits
behave the same counted in Redis as in the process. And the job queue's depth, read from Redis when /metrics is
scraped."""

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from random import randrange
from uuid import uuid4

import httpx
import pytest
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from adapters.limits.in_process import InProcessRateCounter
from adapters.limits.redis_counter import RedisRateCounter
from adapters.memory.runtime import ManualClock
from application.limits import LimitRequests, RateLimits
from domain.limits import TooManyRequests
from domain.ports.runtime import RateCounter
from entrypoints.http.app import create_app
from entrypoints.operations import create_user
from entrypoints.settings import Settings, load_settings
from tests.e2e.conftest import PASSWORD, account_body
from tests.e2e.test_cli import start_serve
from tests.integration.conftest import env_without_mailroom, migrated_engine


@pytest.fixture
async def settings(request: pytest.FixtureRequest, tmp_path: Path, redis_url: str) -> AsyncIterator[Settings]:
    async with migrated_engine("postgres", request, tmp_path) as engine:
        environ = {
            "MAILROOM_DATA_DIR": str(tmp_path),
            "MAILROOM_DATABASE_URL": engine.url.render_as_string(hide_password=False),
            "MAILROOM_REDIS_URL": redis_url,
            "MAILROOM_RATE_LIMIT_PER_MINUTE": "10",
            "MAILROOM_IDLE_ENABLED": "false",
        }
        yield load_settings(environ)


@pytest.fixture(params=["in-process", "redis"])
async def counter(request: pytest.FixtureRequest) -> AsyncIterator[RateCounter]:
    if request.param == "in-process":
        yield InProcessRateCounter()
        return
    redis = RedisRateCounter(Redis.from_url(request.getfixturevalue("redis_url")), prefix=f"test:{uuid4()}:")
    yield redis
    await redis.close()


async def test_login_limits_stop_the_guesser_and_let_the_user_in(counter: RateCounter) -> None:
    clock = ManualClock(datetime(2026, 3, 2, 10, 0, 30, tzinfo=UTC))
    limits = LimitRequests(counter, RateLimits(), clock)

    async def attempts(client: str, right: bool = False, n: int = 1, tenant: str = "acme") -> list[str]:
        outcomes = []
        for _ in range(n):
            try:
                attempt = await limits.for_login(client, tenant, "alice@acme.test")
            except TooManyRequests:
                outcomes.append("refused")
                continue
            outcomes.append("checked")
            if right:
                await attempt.withdraw()
        return outcomes

    assert await attempts("203.0.113.1", n=7, tenant="acme-typo") == ["checked"] * 5 + ["refused"] * 2
    assert await attempts("203.0.113.2", n=7) == ["checked"] * 5 + ["refused"] * 2
    assert await attempts("203.0.113.2", right=True) == ["refused"]
    assert await attempts("203.0.113.3", n=3) == ["checked"] * 2 + ["refused"]  # the account is under attack
    assert await attempts("198.51.100.9", right=True, n=10) == ["checked"] * 10  # its user, from elsewhere


async def test_a_withdrawn_attempt_is_taken_back_from_the_window_it_was_counted_in(counter: RateCounter) -> None:
    clock = ManualClock(datetime(2026, 3, 2, 10, 0, 59, tzinfo=UTC))
    limits = LimitRequests(counter, RateLimits(), clock)
    attempt = await limits.for_login("203.0.113.1", "acme", "u0@acme.test")
    clock.advance(timedelta(seconds=2))  # the password check ran into the next minute
    await attempt.withdraw()
    for n in range(1, 6):
        await limits.for_login("203.0.113.1", "acme", f"u{n}@acme.test")
    with pytest.raises(TooManyRequests):
        await limits.for_login("203.0.113.1", "acme", "u6@acme.test")


async def test_two_api_processes_share_the_budget(settings: Settings) -> None:
    """Two `mailroom serve` processes on one Redis: requests alternate between them, the 11th is refused by both;
    and after five failed logins from one address through either, the sixth attempt is refused by both. Redis
    outlives a test run: the tenant and the client's loopback address are new each time, so are their counts."""
    tenant = f"acme-{uuid4().hex[:12]}"
    assert await create_user(settings, tenant, "alice@acme.test", PASSWORD, None) == 0
    env = env_without_mailroom() | {
        "MAILROOM_DATA_DIR": settings.data_dir,
        "MAILROOM_DATABASE_URL": settings.database_url,
        "MAILROOM_REDIS_URL": settings.redis_url or "",
        "MAILROOM_RATE_LIMIT_PER_MINUTE": "10",
        "MAILROOM_IDLE_ENABLED": "false",
    }
    servers = [start_serve(env), start_serve(env)]
    try:
        loopback = f"127.{randrange(1, 255)}.{randrange(1, 255)}.{randrange(1, 255)}"
        async with httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(local_address=loopback)) as client:
            body = {"tenant": tenant, "email": "alice@acme.test", "password": PASSWORD}
            login = await client.post(f"{servers[0][1]}/api/auth/login", json=body)
            auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
            codes = [(await client.get(f"{servers[i % 2][1]}/api/me", headers=auth)).status_code for i in range(10)]
            assert codes == [200] * 10
            for _, base in servers:
                assert (await client.get(f"{base}/api/me", headers=auth)).status_code == 429

            wrong = body | {"password": "guess"}
            guesses = [await client.post(f"{servers[i % 2][1]}/api/auth/login", json=wrong) for i in range(5)]
            assert [guess.status_code for guess in guesses] == [401] * 5
            for _, base in servers:  # failed logins too are counted once for both
                assert (await client.post(f"{base}/api/auth/login", json=body)).status_code == 429
    finally:
        for process, _ in servers:
            process.terminate()
            process.communicate(timeout=20)


async def test_the_queue_depth_is_read_from_redis_when_scraped(settings: Settings) -> None:
    assert await create_user(settings, "acme", "alice@acme.test", PASSWORD, None) == 0
    async with AsyncTestClient(create_app(settings=settings)) as client:
        body = {"tenant": "acme", "email": "alice@acme.test", "password": PASSWORD}
        auth = {"Authorization": f"Bearer {(await client.post('/api/auth/login', json=body)).json()['access_token']}"}
        before = _depth((await client.get("/metrics")).text)
        account = (await client.post("/api/accounts", json=account_body(), headers=auth)).json()
        assert (await client.post(f"/api/sync/imap/{account['id']}", headers=auth)).status_code == 202
        assert _depth((await client.get("/metrics")).text) == before + 1  # no worker runs here


def _depth(metrics: str) -> float:
    match = re.search(r"^mailroom_job_queue_depth (\S+)$", metrics, re.MULTILINE)
    assert match, "no mailroom_job_queue_depth"
    return float(match.group(1))
