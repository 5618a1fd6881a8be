"""The contract of the drafts repository (the outbox), on SQLite, Postgres and the in-memory fake: round trips,
the compare-and-set writes, the lease, and what the scheduler finds."""

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from domain.drafts import SEND_PATIENCE, Draft, DraftAttachment, DraftContent, DraftStatus, Outgoing
from domain.ids import new_id
from domain.messages import Address
from domain.ports.persistence import UnitOfWork
from tests.integration.test_persistence_contract import account, store, tenant

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)
Factory = Callable[[], UnitOfWork]


async def stored_draft(make_uow: Factory, send_at: datetime | None = None) -> Draft:
    acme = await tenant(make_uow, f"t-{new_id().hex[-12:]}")
    owner = account(acme)
    await store(make_uow, owner)
    content = DraftContent(
        sender=Address("Zoë", "zoe@example.com"),
        to=(Address("Bob", "bob@example.com"),),
        bcc=(Address("", "boss@example.com"),),
        subject="Grüße",
        text="hello",
        html="<p>hello</p>",
        in_reply_to="<1@example.com>",
        references=("<0@example.com>", "<1@example.com>"),
        attachments=(DraftAttachment(new_id(), "März.pdf", "application/pdf", 12, "b" * 64),),
    )
    draft = Draft(new_id(), acme.id, owner.id, content, NOW, NOW)
    async with make_uow() as uow:
        await uow.drafts.add(draft)
        await uow.commit()
    draft.queue(Outgoing("<m@example.com>", NOW, "c" * 64, 999), "job-1", NOW, send_at, "key-1")
    async with make_uow() as uow:
        assert await uow.drafts.update(draft, expected=DraftStatus.DRAFT)
        await uow.commit()
    return draft


async def read(make_uow: Factory, draft: Draft) -> Draft | None:
    async with make_uow() as uow:
        return await uow.drafts.get(draft.tenant_id, draft.id)


async def test_a_queued_draft_round_trips_and_other_tenants_do_not_see_it(make_uow: Factory) -> None:
    draft = await stored_draft(make_uow)
    assert await read(make_uow, draft) == draft
    async with make_uow() as uow:
        assert await uow.drafts.get(new_id(), draft.id) is None
        assert not await uow.drafts.delete(new_id(), draft.id)
        draft.content = DraftContent(Address("", "eve@example.com"))
        stranger = Draft(draft.id, new_id(), draft.account_id, draft.content, NOW, NOW, DraftStatus.QUEUED)
        assert not await uow.drafts.update(stranger, expected=DraftStatus.QUEUED)
        await uow.commit()
    stored = await read(make_uow, draft)
    assert stored is not None
    assert stored.content.sender.address == "zoe@example.com"


async def test_writes_only_land_on_the_status_they_expect(make_uow: Factory) -> None:
    draft = await stored_draft(make_uow)
    async with make_uow() as uow:
        assert not await uow.drafts.update(draft, expected=DraftStatus.DRAFT)
        assert await uow.drafts.claim(draft.id, "w1", NOW, LEASE)
        await uow.commit()
    draft.status = DraftStatus.SENDING
    async with make_uow() as uow:
        assert not await uow.drafts.update(draft, expected=DraftStatus.SENDING, owner="w2")
        assert not await uow.drafts.delete(draft.tenant_id, draft.id)
        assert await uow.drafts.update(draft, expected=DraftStatus.SENDING, owner="w1")
        await uow.commit()


async def test_only_one_of_two_racing_workers_takes_the_lease(make_uow: Factory) -> None:
    draft = await stored_draft(make_uow)

    async def claim(owner: str) -> bool:
        async with make_uow() as uow:
            won = await uow.drafts.claim(draft.id, owner, NOW, LEASE)
            await uow.commit()
        return won

    assert sorted(await asyncio.gather(claim("w1"), claim("w2"))) == [False, True]
    stored = await read(make_uow, draft)
    assert stored is not None
    assert (stored.status, stored.attempts) == (DraftStatus.SENDING, 1)
    async with make_uow() as uow:
        assert not await uow.drafts.claim(draft.id, "w3", NOW + LEASE - timedelta(seconds=1), LEASE)
        assert await uow.drafts.claim(draft.id, "w3", NOW + LEASE, LEASE)
        await uow.commit()
    stored = await read(make_uow, draft)
    assert stored is not None
    assert (stored.lease_owner, stored.attempts) == ("w3", 2)


async def test_the_scheduler_finds_lost_jobs_expired_leases_and_due_scheduled_sends(make_uow: Factory) -> None:
    lost = await stored_draft(make_uow)
    scheduled = await stored_draft(make_uow, send_at=NOW + timedelta(hours=1))
    abandoned = await stored_draft(make_uow)
    async with make_uow() as uow:
        assert await uow.drafts.claim(abandoned.id, "dead", NOW, LEASE)
        assert await uow.drafts.needing_jobs(NOW + timedelta(minutes=1), 10) == []
        found = await uow.drafts.needing_jobs(NOW + timedelta(hours=1), 10)
        await uow.commit()
    assert set(found) == {(d.tenant_id, d.id) for d in (lost, scheduled, abandoned)}
    async with make_uow() as uow:
        await uow.drafts.mark_enqueued(lost.id, NOW + timedelta(hours=1))
        await uow.commit()
    async with make_uow() as uow:
        later = await uow.drafts.needing_jobs(NOW + timedelta(hours=1), 10)
        assert (lost.tenant_id, lost.id) not in later
        again = await uow.drafts.needing_jobs(NOW + timedelta(hours=1) + SEND_PATIENCE, 10)
        assert (lost.tenant_id, lost.id) in again
