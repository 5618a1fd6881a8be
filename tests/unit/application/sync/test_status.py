"""An account's sync as its owner sees it (application/sync/status.py): the status and the folders with their
counts; an account that never synced is idle with no folders; another tenant's account is not found."""

import pytest

from application.sync.request import RequestSync, SyncRequester
from application.sync.status import GetSyncStatus
from domain.errors import NotFound
from domain.messages import Flags
from domain.sync import SyncPhase
from tests.unit.stored_mail import StoredMail, mail, stranger


async def test_an_account_that_never_synced_is_idle_with_no_folders() -> None:
    world = StoredMail()
    account = await world.account()

    status = await GetSyncStatus(world.fakes.uow)(world.user, account.id)

    assert (status.sync.account_id, status.sync.phase, status.sync.finished_at) == (account.id, SyncPhase.IDLE, None)
    assert status.folders == []


async def test_a_requested_sync_shows_as_queued() -> None:
    world = StoredMail()
    account = await world.account()
    request_sync = SyncRequester(world.fakes.uow, world.jobs, world.fakes.clock)
    queued = await RequestSync(world.fakes.uow, request_sync)(world.user, account.id)

    status = await GetSyncStatus(world.fakes.uow)(world.user, account.id)

    assert (status.sync.phase, status.sync.job_id) == (SyncPhase.QUEUED, queued.job_id)


async def test_a_synced_account_shows_when_it_finished_and_its_folders_with_their_counts() -> None:
    world = StoredMail()
    world.server.deliver("INBOX", mail("read"), Flags(seen=True))
    world.server.deliver("INBOX", mail("unread"))
    world.server.deliver("Sent", mail("sent"), Flags(seen=True))
    account = await world.account()
    await world.sync(account)

    status = await GetSyncStatus(world.fakes.uow)(world.user, account.id)

    assert (status.sync.phase, status.sync.finished_at) == (SyncPhase.IDLE, world.fakes.clock.now())
    assert status.sync.progress.messages_fetched == 3
    assert {f.name: (f.message_count, f.unread_count) for f in status.folders} == {"INBOX": (2, 1), "Sent": (1, 0)}


async def test_another_tenants_account_is_not_found() -> None:
    world = StoredMail()
    account = await world.synced_account()

    with pytest.raises(NotFound):
        await GetSyncStatus(world.fakes.uow)(stranger(), account.id)
