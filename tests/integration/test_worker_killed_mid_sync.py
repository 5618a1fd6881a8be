"""A `mailroom worker` killed in the middle of a sync on Redis: the task is delivered again to another worker,
which takes over the expired lease and finishes from the last committed batch, with no duplicate."""

import asyncio
from asyncio.subprocess import Process
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from redis.asyncio import Redis
from sqlalchemy import make_url

from application.accounts.commands import NewMailAccount, ServerLogin
from application.accounts.create import CreateMailAccount
from application.sync.request import RequestSync
from bench.corpus import fill_maildir
from domain.accounts import Security
from domain.ids import new_id
from domain.ports.persistence import UnitOfWork
from domain.tenants import Tenant
from entrypoints.container import build_container
from entrypoints.settings import load_settings
from entrypoints.worker.runtime import create_broker
from tests.conftest import mail_server_settings
from tests.e2e.test_cli import MAILROOM
from tests.integration.conftest import env_without_mailroom
from tests.unit.fakes import stored_admin

USER = "dave"
MESSAGES = 3000
LEASE_SECONDS, REDELIVERY_SECONDS = 3, 5
POLL_SECONDS = 0.05


@pytest.fixture
def env(postgres_url: str, redis_url: str, tmp_path: Path) -> dict[str, str]:
    return env_without_mailroom() | {
        "MAILROOM_DATA_DIR": str(tmp_path),
        "MAILROOM_DATABASE_URL": postgres_url,
        "MAILROOM_REDIS_URL": redis_url,
        "MAILROOM_ALLOW_PRIVATE_MAIL_HOSTS": "true",
        "MAILROOM_SYNC_BATCH_SIZE": "100",
        "MAILROOM_SYNC_LEASE_SECONDS": str(LEASE_SECONDS),
        "MAILROOM_JOB_REDELIVERY_SECONDS": str(REDELIVERY_SECONDS),
        "MAILROOM_SEND_LEASE_SECONDS": str(LEASE_SECONDS),
        "MAILROOM_MAIL_TIMEOUT_SECONDS": "2",
        "MAILROOM_IDLE_ENABLED": "false",  # workers watch inboxes, and a watch's sync would race the one cut here
    }


@pytest.fixture
async def workers(env: dict[str, str]) -> AsyncIterator[Callable[[], Awaitable[Process]]]:
    started: list[Process] = []

    async def start() -> Process:
        started.append(await asyncio.create_subprocess_exec(MAILROOM, "worker", env=env))
        return started[-1]

    yield start
    for process in started:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_a_killed_workers_sync_is_delivered_again_and_resumes(
    env: dict[str, str], workers: Callable[[], Awaitable[Process]]
) -> None:
    mail = mail_server_settings()
    fill_maildir(Path(mail["MAILROOM_TEST_MAIL_DIR"], USER, "Maildir"), MESSAGES)
    await Redis.from_url(env["MAILROOM_REDIS_URL"]).delete("mailroom")
    await migrated_and_empty(env)
    await request_sync(env, mail)
    database = await asyncpg.connect(
        make_url(env["MAILROOM_DATABASE_URL"]).set(drivername="postgresql").render_as_string(False)
    )
    try:
        first = await workers()
        cut_at = await wait_for(database, "batches stored", lambda s: s["stored"] >= 300, seconds=60)
        first.kill()
        await first.wait()
        after_kill = await status(database)
        assert after_kill["phase"] == "running"
        assert after_kill["stored"] < MESSAGES

        await workers()
        done = await wait_for(database, "finished", lambda s: s["phase"] == "idle", seconds=90)
    finally:
        await database.close()
    assert cut_at["job_id"] == done["job_id"], "the same job finished it: no second job was queued"
    assert done["stored"] == done["distinct_uids"] == MESSAGES
    assert done["last_error"] is None
    assert done["fetched"] <= MESSAGES - after_kill["stored"], "it resumed after the last committed batch"


async def migrated_and_empty(env: dict[str, str]) -> None:
    """The session's database is shared with other tests: these count every message in it."""
    migrate = await asyncio.create_subprocess_exec(MAILROOM, "migrate", env=env)
    assert await migrate.wait() == 0
    database = await asyncpg.connect(
        make_url(env["MAILROOM_DATABASE_URL"]).set(drivername="postgresql").render_as_string(False)
    )
    try:
        await database.execute("TRUNCATE tenants CASCADE")
    finally:
        await database.close()


async def request_sync(env: dict[str, str], mail: dict[str, str]) -> None:
    settings = load_settings(env)
    broker = create_broker(settings)
    await broker.startup()
    container = build_container(settings, broker)
    try:
        async with container() as request:
            uow = await request.get(UnitOfWork)
            tenant = Tenant(new_id(), "killed", "Killed worker")
            async with uow:
                await uow.tenants.add(tenant)
                await uow.commit()
            principal = await stored_admin(uow, tenant.id)
            login = ServerLogin(
                mail["MAILROOM_TEST_MAIL_HOST"],
                int(mail["MAILROOM_TEST_IMAP_PORT"]),
                Security.NONE,
                f"{USER}@{mail['MAILROOM_TEST_MAIL_DOMAIN']}",
                f"{USER}-password-1",
            )
            create = await request.get(CreateMailAccount)
            account = await create(principal, NewMailAccount("Dave", login.username, login, login))
            await (await request.get(RequestSync))(principal, account.id)
    finally:
        await container.close()
        await broker.shutdown()


async def status(database: asyncpg.Connection) -> dict[str, Any]:
    row = await database.fetchrow(
        "SELECT phase, job_id, last_error, messages_fetched AS fetched,"
        " (SELECT count(*) FROM messages) AS stored, (SELECT count(DISTINCT uid) FROM messages) AS distinct_uids"
        " FROM account_syncs"
    )
    assert row is not None
    return dict(row)


async def wait_for(
    database: asyncpg.Connection, what: str, condition: Callable[[dict[str, Any]], bool], seconds: float
) -> dict[str, Any]:
    for _ in range(int(seconds / POLL_SECONDS)):
        current = await status(database)
        if condition(current):
            return current
        await asyncio.sleep(POLL_SECONDS)
    raise AssertionError(f"not {what} within {seconds} s: {await status(database)}")


async def test_a_worker_stopped_with_sigterm_gives_its_lease_back_and_another_finishes(
    env: dict[str, str], workers: Callable[[], Awaitable[Process]]
) -> None:
    """Graceful shutdown: with a grace period shorter than the sync, the worker cancels it, gives its lease back
    at once (not after the lease's time), queues the sync again and exits; the next worker finishes it."""
    env["MAILROOM_SHUTDOWN_GRACE_SECONDS"] = "0.5"
    env["MAILROOM_SYNC_LEASE_SECONDS"] = "4"
    mail = mail_server_settings()
    fill_maildir(Path(mail["MAILROOM_TEST_MAIL_DIR"], USER, "Maildir"), MESSAGES)
    await Redis.from_url(env["MAILROOM_REDIS_URL"]).delete("mailroom")
    await migrated_and_empty(env)
    database = await asyncpg.connect(
        make_url(env["MAILROOM_DATABASE_URL"]).set(drivername="postgresql").render_as_string(False)
    )
    await request_sync(env, mail)
    try:
        first = await workers()
        await wait_for(database, "batches stored", lambda s: s["stored"] >= 300, seconds=60)
        first.terminate()
        assert await asyncio.wait_for(first.wait(), timeout=15) == 0
        released = await database.fetchrow("SELECT phase, lease_owner FROM account_syncs")
        assert released is not None
        assert (released["phase"], released["lease_owner"]) == ("queued", None)

        await workers()
        done = await wait_for(database, "finished", lambda s: s["phase"] == "idle", seconds=90)
    finally:
        await database.close()
    assert done["stored"] == done["distinct_uids"] == MESSAGES
