"""The scheduled blob collection, run as the scheduler runs it (by task name, in the app's in-process broker):
after an account is deleted over HTTP, the raw messages synced for it leave the blob store."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from dishka import Provider, Scope, provide
from litestar import Litestar
from litestar.testing import AsyncTestClient
from taskiq import AsyncBroker

from adapters.memory.blobs import MemoryBlobStore
from adapters.memory.imap import FakeImapServer
from adapters.memory.runtime import ManualClock
from application.blobs.collect import SLOT
from application.jobs import COLLECT_BLOBS_TASK
from domain.blobs import SHARDS, BlobKey
from domain.ports.runtime import Clock
from domain.ports.storage import BlobStore
from entrypoints.http.app import create_app
from entrypoints.ioc import MemoryProvider
from entrypoints.settings import load_settings
from tests.e2e.conftest import Login, account_body
from tests.e2e.test_sync_api import wait_for_idle
from tests.unit import mail_corpus


class ManualClockProvider(Provider):
    def __init__(self, clock: ManualClock) -> None:
        super().__init__()
        self._clock = clock

    @provide(scope=Scope.APP, override=True)
    def clock(self) -> Clock:
        return self._clock


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime.now(UTC))


@pytest.fixture
def app(tmp_path: Path, clock: ManualClock) -> Litestar:
    settings = load_settings({"MAILROOM_DATA_DIR": str(tmp_path)})
    return create_app(MemoryProvider(), ManualClockProvider(clock), settings=settings)


def until_the_slot_of(shard: str, clock: ManualClock) -> timedelta:
    """How far `clock` must go for a run to take `shard` (each five-minute slot takes the next shard)."""
    slot = int(clock.now().timestamp() // SLOT.total_seconds())
    slots = (SHARDS.index(shard) - slot) % len(SHARDS)
    return SLOT * slots + SLOT / 2 - timedelta(seconds=clock.now().timestamp() % SLOT.total_seconds())


async def test_the_scheduled_job_deletes_the_blobs_of_a_deleted_account(
    app: Litestar, client: AsyncTestClient[Litestar], login: Login, clock: ManualClock
) -> None:
    container = app.state.dishka_container
    (await container.get(FakeImapServer)).deliver("INBOX", mail_corpus.plain(Subject=b"private"))
    auth = await login()
    account = (await client.post("/api/accounts", json=account_body(), headers=auth)).json()
    await client.post(f"/api/sync/imap/{account['id']}", headers=auth)
    await wait_for_idle(client, account["id"], auth)
    [message] = (await client.get(f"/api/accounts/{account['id']}/messages", headers=auth)).json()["items"]
    assert (await client.get(f"/api/messages/{message['id']}/raw", headers=auth)).status_code == 200
    blobs = await container.get(BlobStore)
    assert isinstance(blobs, MemoryBlobStore)
    assert len(blobs.blobs) == 1

    assert (await client.delete(f"/api/accounts/{account['id']}", headers=auth)).status_code == 204
    blobs.written = dict.fromkeys(blobs.written, datetime.now(UTC) - timedelta(days=2))
    task = (await container.get(AsyncBroker)).find_task(COLLECT_BLOBS_TASK)
    assert task is not None
    assert task.labels["schedule"] == [{"cron": "*/5 * * * *"}]
    [key] = blobs.blobs
    clock.advance(until_the_slot_of(BlobKey.parse(key).shard, clock))

    result = await (await task.kiq()).wait_result(timeout=10)

    assert not result.is_err, result.error
    assert result.return_value == 1
    assert blobs.blobs == {}
