"""The contract of the repositories the sync writes to; on SQLite, Postgres and the in-memory fake."""

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from domain.errors import Conflict
from domain.ids import new_id
from domain.mailboxes import Mailbox, MailboxRole, SyncState
from domain.messages import Address, Attachment, Flags, Message
from domain.ports.persistence import UnitOfWork
from domain.remote import FlagUpdate
from domain.sync import AccountSync, SyncPhase, SyncProgress
from tests.integration.test_persistence_contract import account, store, tenant

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
Factory = Callable[[], UnitOfWork]


async def folder(make_uow: Factory, name: str = "INBOX") -> Mailbox:
    acme = await tenant(make_uow)
    owner = account(acme)
    await store(make_uow, owner)
    mailbox = Mailbox(new_id(), acme.id, owner.id, name, "/", MailboxRole.INBOX, SyncState(7, 0, None))
    async with make_uow() as uow:
        await uow.mailboxes.add(mailbox)
        await uow.commit()
    return mailbox


def message(box: Mailbox, uid: int, message_id: str | None = None, seen: bool = False) -> Message:
    attachment = Attachment(new_id(), "a.pdf", "application/pdf", 10, None, False, "2")
    return Message(
        id=new_id(),
        tenant_id=box.tenant_id,
        account_id=box.account_id,
        mailbox_id=box.id,
        uid=uid,
        thread_id=new_id(),
        message_id=message_id or f"<{uid}@example.com>",
        subject=f"Grüße {uid}",
        sender=[Address("Zoë", "zoe@example.com")],
        to=[Address("", "bob@example.com")],
        date=NOW,
        internal_date=NOW + timedelta(seconds=uid),
        size=1234,
        flags=Flags(seen=seen, keywords=frozenset({"$Label1"})),
        preview="hello",
        references=["<root@example.com>"],
        text_body="hello",
        attachments=[attachment],
        raw_blob_key="a" * 64,
        parse_warnings=["no Date header"],
        modseq=5,
    )


async def test_folders_round_trip_with_their_sync_state(make_uow: Factory) -> None:
    box = await folder(make_uow)
    changed = replace(box, sync_state=SyncState(7, 42, 99), message_count=3, unread_count=1, last_synced_at=NOW)
    async with make_uow() as uow:
        await uow.mailboxes.update(changed)
        await uow.commit()
    async with make_uow() as uow:
        assert await uow.mailboxes.for_account(box.tenant_id, box.account_id) == [changed]
        assert await uow.mailboxes.for_account(new_id(), box.account_id) == []


async def test_messages_round_trip_and_uids_are_unique_per_folder(make_uow: Factory) -> None:
    box = await folder(make_uow)
    first = message(box, 1)
    async with make_uow() as uow:
        await uow.message_store.add_many([first, message(box, 2, seen=True)])
        await uow.commit()
    async with make_uow() as uow:
        assert await uow.message_store.uids(box.id) == [1, 2]
        assert await uow.message_store.counts(box.id) == (2, 1)
        assert await uow.message_store.thread_of(box.account_id, ["<x@y>", "<1@example.com>"]) == first.thread_id
        assert await uow.messages.with_message_id(box.tenant_id, box.account_id, "<1@example.com>") == [first]
        assert await uow.messages.with_message_id(new_id(), box.account_id, "<1@example.com>") == []
    async with make_uow() as uow:
        with pytest.raises(Conflict):
            await uow.message_store.add_many([message(box, 1)])


async def test_flags_and_removals_apply_by_uid(make_uow: Factory) -> None:
    box = await folder(make_uow)
    async with make_uow() as uow:
        await uow.message_store.add_many([message(box, uid) for uid in range(1, 6)])
        await uow.message_store.apply_flags(box.id, [FlagUpdate(2, Flags(seen=True, flagged=True), 9)])
        await uow.message_store.remove_uids(box.id, [4, 5, 99])
        await uow.commit()
    async with make_uow() as uow:
        assert await uow.message_store.uids(box.id) == [1, 2, 3]
        assert await uow.message_store.counts(box.id) == (3, 2)
        await uow.mailboxes.delete(box.tenant_id, box.id)
        await uow.commit()
    async with make_uow() as uow:
        assert await uow.message_store.uids(box.id) == []
        assert await uow.mailboxes.for_account(box.tenant_id, box.account_id) == []


async def test_one_lease_holder_at_a_time_until_it_expires(make_uow: Factory) -> None:
    box = await folder(make_uow)
    sync = AccountSync(box.tenant_id, box.account_id, SyncPhase.QUEUED, job_id="j1", progress=SyncProgress(0, 3))
    async with make_uow() as uow:
        await uow.syncs.save(sync)
        await uow.commit()
    ttl = timedelta(minutes=2)
    async with make_uow() as uow:
        assert await uow.syncs.take_lease(box.account_id, "worker-a", NOW, ttl)
        assert not await uow.syncs.take_lease(box.account_id, "worker-b", NOW + timedelta(minutes=1), ttl)
        assert await uow.syncs.take_lease(box.account_id, "worker-a", NOW + timedelta(minutes=1), ttl)
        assert await uow.syncs.take_lease(box.account_id, "worker-b", NOW + timedelta(minutes=4), ttl)
        await uow.commit()
    async with make_uow() as uow:
        stored = await uow.syncs.get(box.tenant_id, box.account_id)
        assert stored is not None
        assert (stored.lease_owner, stored.job_id, stored.progress.folders_total) == ("worker-b", "j1", 3)
        assert await uow.syncs.get(new_id(), box.account_id) is None


async def test_a_status_created_meanwhile_is_not_overwritten_by_a_fresh_one(make_uow: Factory) -> None:
    """Two workers claiming a never-synced account both find no status; the second to add it must fail,
    not wipe the first one's lease."""
    box = await folder(make_uow)
    async with make_uow() as first:
        await first.syncs.add(AccountSync(box.tenant_id, box.account_id))
        assert await first.syncs.take_lease(box.account_id, "worker-a", NOW, timedelta(minutes=2))
        await first.commit()
    async with make_uow() as second:
        with pytest.raises(Conflict):
            await second.syncs.add(AccountSync(box.tenant_id, box.account_id))
    async with make_uow() as uow:
        assert not await uow.syncs.take_lease(box.account_id, "worker-b", NOW, timedelta(minutes=2))
        stored = await uow.syncs.get(box.tenant_id, box.account_id)
        assert stored is not None
        assert stored.lease_owner == "worker-a"


async def test_a_run_asked_of_a_running_sync_outlives_its_saves_and_is_taken_once(make_uow: Factory) -> None:
    box = await folder(make_uow)
    sync = AccountSync(box.tenant_id, box.account_id)
    sync.queue("j1", NOW)
    async with make_uow() as uow:
        await uow.syncs.save(sync)
        assert not await uow.syncs.ask_to_run_again(box.account_id)
        sync.start(NOW)
        await uow.syncs.save(sync)
        await uow.commit()
    async with make_uow() as uow:
        assert await uow.syncs.ask_to_run_again(box.account_id)
        await uow.commit()
    sync.progress.folders_done = 1
    sync.finish(NOW)
    async with make_uow() as uow:
        await uow.syncs.save(sync)
        await uow.commit()
    async with make_uow() as uow:
        assert not await uow.syncs.ask_to_run_again(box.account_id)
        assert await uow.syncs.take_run_again(box.account_id)
        assert not await uow.syncs.take_run_again(box.account_id)
        await uow.commit()


async def test_due_accounts_follow_their_own_interval(make_uow: Factory) -> None:
    box = await folder(make_uow)
    async with make_uow() as uow:
        assert await uow.syncs.due(NOW) == [(box.tenant_id, box.account_id)]
        running = AccountSync(box.tenant_id, box.account_id, SyncPhase.RUNNING)
        running.take_lease("worker", NOW, timedelta(minutes=5))
        await uow.syncs.save(running)
        await uow.commit()
    async with make_uow() as uow:
        assert await uow.syncs.due(NOW) == []
        finished = AccountSync(box.tenant_id, box.account_id)
        finished.finish(NOW)
        await uow.syncs.save(finished)
        await uow.commit()
    async with make_uow() as uow:
        assert await uow.syncs.due(NOW + timedelta(seconds=299)) == []
        assert await uow.syncs.due(NOW + timedelta(seconds=300)) == [(box.tenant_id, box.account_id)]
        lost = AccountSync(box.tenant_id, box.account_id)
        lost.queue("lost", NOW)
        await uow.syncs.save(lost)
        await uow.commit()
    async with make_uow() as uow:
        assert await uow.syncs.due(NOW + timedelta(minutes=14)) == []
        assert await uow.syncs.due(NOW + timedelta(minutes=15)) == [(box.tenant_id, box.account_id)]
