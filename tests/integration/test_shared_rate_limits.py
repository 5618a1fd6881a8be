"""Two API processes on one Redis share one budget per user: what one counted, the other sees. And the job
queue's depth, read from Redis when /metrics is scraped."""

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from litestar.testing import AsyncTestClient

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


async def test_two_api_processes_share_the_budget(settings: Settings) -> None:
    """Two `mailroom serve` processes on one Redis: requests alternate between them, the 11th is refused by both."""
    assert await create_user(settings, "acme", "alice@acme.test", PASSWORD, None) == 0
    env = env_without_mailroom() | {
        "MAILROOM_DATA_DIR": settings.data_dir,
        "MAILROOM_DATABASE_URL": settings.database_url,
        "MAILROOM_REDIS_URL": settings.redis_url or "",
        "MAILROOM_RATE_LIMIT_PER_MINUTE": "10",
        "MAILROOM_IDLE_ENABLED": "false",
    }
    servers = [start_serve(env), start_serve(env)]
    try:
        async with httpx.AsyncClient() as client:
            body = {"tenant": "acme", "email": "alice@acme.test", "password": PASSWORD}
            login = await client.post(f"{servers[0][1]}/api/auth/login", json=body)
            auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
            codes = [(await client.get(f"{servers[i % 2][1]}/api/me", headers=auth)).status_code for i in range(10)]
            assert codes == [200] * 10
            for _, base in servers:
                assert (await client.get(f"{base}/api/me", headers=auth)).status_code == 429
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
