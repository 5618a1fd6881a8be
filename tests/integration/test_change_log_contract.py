"""The contract of the change log and the webhook store; on SQLite, Postgres and the in-memory fake.

The feed, the stream and the webhook dispatcher all follow a tenant's log by remembering the last sequence they
saw, so the log must hand out sequences 1, 2, 3... per tenant, only for committed transactions, and make them
visible in that order: a reader that has seen n never later finds an event below n."""

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import msgspec
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.persistence.database import create_session_factory
from adapters.persistence.unit_of_work import SqlUnitOfWork
from domain.accounts import EncryptedSecret
from domain.changes import Change, ChangeFilter, ChangeType, LoggedChange
from domain.ids import new_id
from domain.ports.persistence import UnitOfWork
from domain.tenants import Tenant
from domain.webhooks import AttemptOutcome, Delivery, DeliveryAttempt, DeliveryStatus, Webhook, webhook_secret_binding
from tests.integration.conftest import migrated_engine
from tests.integration.test_persistence_contract import tenant

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
Factory = Callable[[], UnitOfWork]


def event(
    owner: Tenant,
    kind: ChangeType = ChangeType.MESSAGE_CREATED,
    account_id: UUID | None = None,
    at: datetime = NOW,
    data: dict[str, Any] | None = None,
) -> Change:
    return Change(new_id(), kind, owner.id, account_id, at, data or {})


async def commit_events(make_uow: Factory, *changes: Change) -> None:
    async with make_uow() as uow:
        for change in changes:
            uow.changes.record(change)
        await uow.commit()


async def read_log(make_uow: Factory, owner: Tenant, after: int = 0, wanted: ChangeFilter | None = None) -> list[int]:
    async with make_uow() as uow:
        return [logged.sequence for logged in await uow.changes.after(owner.id, after, 1000, wanted)]


def as_served(data: Any) -> Any:
    """What the API would send for this value: UUIDs and datetimes become strings."""
    return msgspec.json.decode(msgspec.json.encode(data))


async def test_committed_events_are_numbered_per_tenant_and_read_oldest_first(make_uow: Factory) -> None:
    acme, globex = await tenant(make_uow), await tenant(make_uow, "globex")
    message_id = new_id()
    data = {"message": {"id": message_id, "date": NOW, "keywords": ["$Label1"]}, "size": 12, "seen": False}
    first, second, third = event(acme, data=data), event(acme, ChangeType.MESSAGE_DELETED), event(acme)
    theirs = [event(globex), event(globex, ChangeType.MAILBOX_CREATED)]
    await commit_events(make_uow, first, theirs[0], second)
    await commit_events(make_uow, theirs[1])
    await commit_events(make_uow, third)

    async with make_uow() as uow:
        mine = await uow.changes.after(acme.id, 0, 100)
        page = await uow.changes.after(acme.id, 1, 1)
        other = await uow.changes.after(globex.id, 0, 100)
        positions = [await uow.changes.position(t) for t in (acme.id, globex.id, new_id())]
        kept = await uow.changes.at(acme.id, [3, 1, 99])
        not_mine = await uow.changes.at(globex.id, [3])

    assert [(e.sequence, e.change.id) for e in mine] == [(1, first.id), (2, second.id), (3, third.id)]
    assert [(e.sequence, e.change.id) for e in other] == [(1, theirs[0].id), (2, theirs[1].id)]
    assert [e.sequence for e in page] == [2]
    assert positions == [(3, 0), (2, 0), (0, 0)]
    assert sorted(e.sequence for e in kept) == [1, 3]
    assert not_mine == []
    assert mine[0] == LoggedChange(1, replace(first, data=as_served(data)))
    assert mine[0].change.data["message"] == {
        "id": str(message_id),
        "date": "2026-05-01T12:00:00Z",
        "keywords": ["$Label1"],
    }


async def fail_after_recording(make_uow: Factory, change: Change) -> None:
    async with make_uow() as uow:
        uow.changes.record(change)
        raise RuntimeError("the use case failed")


async def test_a_transaction_not_committed_leaves_no_events_and_uses_no_sequences(make_uow: Factory) -> None:
    acme = await tenant(make_uow)
    kept = [event(acme), event(acme)]
    await commit_events(make_uow, kept[0])
    async with make_uow() as uow:
        uow.changes.record(event(acme))
    with pytest.raises(RuntimeError):
        await fail_after_recording(make_uow, event(acme))
    async with make_uow() as uow:
        uow.changes.record(event(acme))
        await uow.rollback()
        uow.changes.record(kept[1])
        await uow.commit()

    async with make_uow() as uow:
        assert [(e.sequence, e.change.id) for e in await uow.changes.after(acme.id, 0, 100)] == [
            (1, kept[0].id),
            (2, kept[1].id),
        ]
        assert await uow.changes.position(acme.id) == (2, 0)


async def test_a_filter_gives_only_the_types_and_accounts_asked_for(make_uow: Factory) -> None:
    acme = await tenant(make_uow)
    work, home = new_id(), new_id()
    await commit_events(
        make_uow,
        event(acme, ChangeType.MESSAGE_CREATED, work),
        event(acme, ChangeType.MESSAGE_DELETED, home),
        event(acme, ChangeType.MAILBOX_CREATED, work),
        event(acme, ChangeType.WEBHOOK_DISABLED, None),
    )
    messages = frozenset({ChangeType.MESSAGE_CREATED, ChangeType.MESSAGE_DELETED})

    assert await read_log(make_uow, acme, wanted=ChangeFilter()) == [1, 2, 3, 4]
    assert await read_log(make_uow, acme, wanted=ChangeFilter(types=messages)) == [1, 2]
    assert await read_log(make_uow, acme, wanted=ChangeFilter(account_ids=frozenset({work}))) == [1, 3]
    assert await read_log(make_uow, acme, wanted=ChangeFilter(messages, frozenset({work}))) == [1]
    assert await read_log(make_uow, acme, wanted=ChangeFilter(account_ids=frozenset())) == []
    assert await read_log(make_uow, acme, after=1, wanted=ChangeFilter(account_ids=frozenset({work}))) == [3]
    async with make_uow() as uow:
        first = await uow.changes.after(acme.id, 0, 1, ChangeFilter(types=frozenset({ChangeType.MAILBOX_CREATED})))
    assert [e.sequence for e in first] == [3]


async def test_pruning_goes_in_batches_and_marks_how_far_each_log_was_pruned(make_uow: Factory) -> None:
    acme, globex = await tenant(make_uow), await tenant(make_uow, "globex")
    long_ago = NOW - timedelta(days=30)
    for minute in range(5):
        await commit_events(make_uow, event(acme, at=long_ago + timedelta(minutes=2 * minute)))
        if minute < 3:
            await commit_events(make_uow, event(globex, at=long_ago + timedelta(minutes=2 * minute + 1)))
    await commit_events(make_uow, event(acme), event(globex), event(acme))

    pruned: list[int] = []
    while not pruned or pruned[-1]:
        async with make_uow() as uow:
            pruned.append(await uow.changes.prune(NOW - timedelta(days=7), 3))
            await uow.commit()
        async with make_uow() as uow:
            for owner in (acme, globex):
                last, through = await uow.changes.position(owner.id)
                kept = [e.sequence for e in await uow.changes.after(owner.id, 0, 100)]
                assert kept == list(range(through + 1, last + 1)), "a log is pruned from its start only"

    assert pruned == [3, 3, 2, 0]
    async with make_uow() as uow:
        assert await uow.changes.position(acme.id) == (7, 5)
        assert await uow.changes.position(globex.id) == (4, 3)
        assert [e.sequence for e in await uow.changes.at(acme.id, [1, 5, 6, 7])] == [6, 7]
        assert all(e.change.created_at == NOW for e in await uow.changes.after(acme.id, 0, 100))


async def test_pruning_stops_at_the_first_event_too_young_whatever_comes_after(make_uow: Factory) -> None:
    """An event's time is taken when it is recorded and its sequence when it commits: a younger event may sit
    between two older ones. The log is pruned from its start up to it, never past it."""
    acme = await tenant(make_uow)
    long_ago = NOW - timedelta(days=30)
    await commit_events(make_uow, event(acme, at=long_ago))
    await commit_events(make_uow, event(acme, at=NOW))
    await commit_events(make_uow, event(acme, at=long_ago + timedelta(minutes=1)))
    async with make_uow() as uow:
        assert await uow.changes.prune(NOW - timedelta(days=7), 10) == 1
        await uow.commit()
    async with make_uow() as uow:
        assert await uow.changes.position(acme.id) == (3, 1)
        assert [e.sequence for e in await uow.changes.after(acme.id, 0, 10)] == [2, 3]


@pytest.fixture(params=["postgres", "sqlite"])
async def session_factory(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with migrated_engine(request.param, request, tmp_path) as engine:
        yield create_session_factory(engine)


async def test_concurrent_writers_leave_no_gap_and_a_following_reader_misses_nothing(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """The tenant's counter row, taken at commit, stays locked until COMMIT: writers of one tenant get their
    sequences in the order they commit, so a reader that moves its cursor to the last event it saw skips none.
    Sixteen writers, so commits overlap often enough to catch sequences taken outside the committing transaction."""

    def make_uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(session_factory)

    acme = await tenant(make_uow)
    transactions: list[list[UUID]] = []
    writing = True

    async def writer(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(25):
            changes = [event(acme) for _ in range(rng.randint(1, 3))]
            async with make_uow() as uow:
                for change in changes:
                    uow.changes.record(change)
                await asyncio.sleep(rng.random() / 500)
                await uow.commit()
            transactions.append([c.id for c in changes])

    async def reader() -> list[list[int]]:
        """The batches of sequences it read, following the log as the writers go."""
        batches: list[list[int]] = []
        cursor = 0
        while True:
            done = not writing
            async with make_uow() as uow:
                found = [e.sequence for e in await uow.changes.after(acme.id, cursor, 100)]
            if found:
                batches.append(found)
                cursor = found[-1]
            elif done:
                return batches
            await asyncio.sleep(0)

    async def writers() -> None:
        nonlocal writing
        await asyncio.gather(*(writer(seed) for seed in range(16)))
        writing = False

    _, *readers = await asyncio.gather(writers(), reader(), reader(), reader())

    total = sum(len(t) for t in transactions)
    async with make_uow() as uow:
        log = await uow.changes.after(acme.id, 0, 10_000)
        assert await uow.changes.position(acme.id) == (total, 0)
    assert [e.sequence for e in log] == list(range(1, total + 1))
    sequence_of = {e.change.id: e.sequence for e in log}
    for ids in transactions:
        start = sequence_of[ids[0]]
        assert [sequence_of[i] for i in ids] == list(range(start, start + len(ids)))
    for batches in readers:
        assert len(batches) > 1, "a reader should have followed the writers, not read everything at the end"
        assert [s for batch in batches for s in batch] == list(range(1, total + 1))


def webhook(owner: Tenant, cursor: int = 0, enabled: bool = True) -> Webhook:
    webhook_id = new_id()
    return Webhook(
        id=webhook_id,
        tenant_id=owner.id,
        url="https://hooks.example.com/mail",
        wanted=ChangeFilter(),
        description="CRM",
        secret=EncryptedSecret("k1", b"\x00\x01webhook-cipher", webhook_secret_binding(webhook_id)),
        created_at=NOW,
        updated_at=NOW,
        cursor=cursor,
        enabled=enabled,
    )


def delivery(
    hook: Webhook, sequence: int, due: datetime | None, status: DeliveryStatus = DeliveryStatus.PENDING
) -> Delivery:
    return Delivery(
        id=new_id(),
        tenant_id=hook.tenant_id,
        webhook_id=hook.id,
        sequence=sequence,
        event_id=new_id(),
        event_type=ChangeType.MESSAGE_CREATED.value,
        status=status,
        attempts=0,
        next_attempt_at=due,
        created_at=NOW - timedelta(hours=1),
    )


def attempt(item: Delivery, number: int, outcome: AttemptOutcome, retry_at: datetime | None) -> DeliveryAttempt:
    return DeliveryAttempt(
        id=new_id(),
        tenant_id=item.tenant_id,
        webhook_id=item.webhook_id,
        delivery_id=item.id,
        event_id=item.event_id,
        event_type=item.event_type,
        attempt=number,
        at=NOW + timedelta(seconds=number),
        outcome=outcome,
        next_attempt_at=retry_at,
    )


async def add_webhooks(make_uow: Factory, *hooks: Webhook, deliveries: tuple[Delivery, ...] = ()) -> None:
    async with make_uow() as uow:
        for hook in hooks:
            await uow.webhooks.add(hook)
        await uow.webhooks.add_deliveries(deliveries)
        await uow.commit()


async def claim(make_uow: Factory, owner: Tenant, now: datetime, limit: int = 10) -> list[Delivery]:
    async with make_uow() as uow:
        claimed = await uow.webhooks.claim_due(owner.id, now, now + timedelta(minutes=1), limit)
        await uow.commit()
    return claimed


async def test_webhooks_are_kept_updated_and_deleted_per_tenant(make_uow: Factory) -> None:
    acme, globex = await tenant(make_uow), await tenant(make_uow, "globex")
    first, second, theirs = webhook(acme), webhook(acme, enabled=False), webhook(globex)
    await add_webhooks(make_uow, first, second, theirs)
    changed = replace(
        first,
        url="https://hooks.example.org/v2",
        wanted=ChangeFilter(frozenset({ChangeType.MESSAGE_CREATED}), frozenset({new_id()})),
        description="Billing",
        updated_at=NOW + timedelta(hours=1),
        cursor=4,
    )
    changed.disable("the receiver answered 410 Gone", NOW + timedelta(hours=2))
    async with make_uow() as uow:
        assert await uow.webhooks.get(acme.id, first.id) == first
        assert await uow.webhooks.get(globex.id, first.id) is None
        assert await uow.webhooks.for_tenant(acme.id) == [first, second]
        assert await uow.webhooks.enabled(acme.id) == [first]
        await uow.webhooks.update(changed)
        await uow.webhooks.update(replace(theirs, tenant_id=acme.id, url="https://evil.example.com/"))
        await uow.commit()
    async with make_uow() as uow:
        assert await uow.webhooks.get(acme.id, first.id) == changed
        assert await uow.webhooks.enabled(acme.id) == []
        assert await uow.webhooks.get(globex.id, theirs.id) == theirs
        assert not await uow.webhooks.delete(globex.id, first.id)
        assert await uow.webhooks.delete(acme.id, first.id)
        await uow.commit()
    async with make_uow() as uow:
        assert await uow.webhooks.get(acme.id, first.id) is None
        assert await uow.webhooks.for_tenant(acme.id) == [second]
        assert not await uow.webhooks.delete(acme.id, first.id)


async def test_a_cursor_moves_only_from_where_it_was_read(make_uow: Factory) -> None:
    acme = await tenant(make_uow)
    hook = webhook(acme)
    await add_webhooks(make_uow, hook)
    async with make_uow() as uow:
        assert await uow.webhooks.advance(hook.id, 0, 5)
        assert not await uow.webhooks.advance(hook.id, 0, 7), "another dispatcher moved it first"
        assert not await uow.webhooks.advance(new_id(), 0, 1)
        await uow.commit()
    async with make_uow() as uow:
        stored = await uow.webhooks.get(acme.id, hook.id)
        assert stored is not None
        assert stored.cursor == 5
        assert await uow.webhooks.advance(hook.id, 5, 9)


async def test_due_deliveries_are_claimed_once_until_the_lease_ends(make_uow: Factory) -> None:
    acme, globex = await tenant(make_uow), await tenant(make_uow, "globex")
    hook, theirs = webhook(acme), webhook(globex)
    older, newer = delivery(hook, 1, NOW - timedelta(minutes=2)), delivery(hook, 2, NOW - timedelta(minutes=1))
    later = delivery(hook, 3, NOW + timedelta(minutes=5))
    finished = [
        delivery(hook, 4, None, DeliveryStatus.DELIVERED),
        delivery(hook, 5, NOW - timedelta(minutes=3), DeliveryStatus.FAILED),
    ]
    other_tenants = delivery(theirs, 1, NOW)
    await add_webhooks(make_uow, hook, theirs, deliveries=(newer, later, older, *finished, other_tenants))

    first = await claim(make_uow, acme, NOW)
    assert [d.id for d in first] == [older.id, newer.id]
    async with make_uow() as uow:
        assert await uow.webhooks.next_due(acme.id) == NOW + timedelta(minutes=1), "due again when the lease ends"
    assert await claim(make_uow, acme, NOW) == []
    assert await claim(make_uow, acme, NOW + timedelta(seconds=30)) == []
    assert [d.id for d in await claim(make_uow, acme, NOW + timedelta(minutes=1, seconds=1), limit=1)] == [older.id]
    assert [d.id for d in await claim(make_uow, acme, NOW + timedelta(minutes=1, seconds=1))] == [newer.id]
    assert [d.id for d in await claim(make_uow, globex, NOW)] == [other_tenants.id]


async def test_dispatchers_claiming_at_once_never_take_the_same_delivery(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    def make_uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(session_factory)

    acme = await tenant(make_uow)
    hook = webhook(acme)
    due = [delivery(hook, sequence, NOW - timedelta(minutes=1)) for sequence in range(1, 41)]
    await add_webhooks(make_uow, hook, deliveries=tuple(due))

    async def dispatcher() -> list[UUID]:
        taken: list[UUID] = []
        while claimed := await claim(make_uow, acme, NOW, limit=3):
            taken.extend(d.id for d in claimed)
        return taken

    taken = [d for batch in await asyncio.gather(*(dispatcher() for _ in range(6))) for d in batch]
    assert sorted(taken) == sorted(d.id for d in due)


async def test_finished_attempts_are_kept_and_listed_newest_first(make_uow: Factory) -> None:
    acme, globex = await tenant(make_uow), await tenant(make_uow, "globex")
    hook = webhook(acme)
    retried, gone = delivery(hook, 1, NOW), delivery(hook, 2, NOW)
    await add_webhooks(make_uow, hook, deliveries=(retried, gone))
    retry_at = NOW + timedelta(seconds=5)
    first = attempt(retried, 1, AttemptOutcome(503, 120), retry_at)
    timeout = attempt(gone, 1, AttemptOutcome(None, 10_000, "timed out"), None)
    async with make_uow() as uow:
        await uow.webhooks.finish_attempts(
            [
                replace(retried, attempts=1, next_attempt_at=retry_at),
                replace(gone, attempts=1, status=DeliveryStatus.FAILED, next_attempt_at=None),
            ],
            [first, timeout],
        )
        await uow.commit()
    async with make_uow() as uow:
        assert await uow.webhooks.next_due(acme.id) == retry_at
    (again,) = await claim(make_uow, acme, retry_at)
    assert (again.id, again.attempts, again.status) == (retried.id, 1, DeliveryStatus.PENDING)
    second = attempt(retried, 2, AttemptOutcome(204, 35), None)
    async with make_uow() as uow:
        await uow.webhooks.finish_attempts(
            [replace(again, attempts=2, status=DeliveryStatus.DELIVERED, next_attempt_at=None)], [second]
        )
        await uow.commit()

    async with make_uow() as uow:
        assert await uow.webhooks.attempts(acme.id, hook.id, None, 10) == [second, timeout, first]
        assert await uow.webhooks.attempts(acme.id, hook.id, None, 2) == [second, timeout]
        assert await uow.webhooks.attempts(acme.id, hook.id, timeout.id, 2) == [first]
        assert await uow.webhooks.attempts(globex.id, hook.id, None, 10) == []
        assert await uow.webhooks.next_due(acme.id) is None
    assert await claim(make_uow, acme, NOW + timedelta(days=30)) == []


async def test_a_disabled_endpoints_pending_deliveries_fail(make_uow: Factory) -> None:
    acme, globex = await tenant(make_uow), await tenant(make_uow, "globex")
    hook, other, theirs = webhook(acme), webhook(acme), webhook(globex)
    soon, sooner = NOW + timedelta(minutes=1), NOW - timedelta(minutes=1)
    await add_webhooks(
        make_uow,
        hook,
        other,
        theirs,
        deliveries=(
            delivery(hook, 1, sooner),
            delivery(hook, 2, NOW),
            delivery(other, 1, soon),
            delivery(theirs, 1, NOW),
        ),
    )
    async with make_uow() as uow:
        assert await uow.webhooks.next_due(acme.id) == sooner
        await uow.webhooks.fail_pending(hook.id)
        await uow.commit()
    async with make_uow() as uow:
        assert await uow.webhooks.next_due(acme.id) == soon
        assert await uow.webhooks.next_due(globex.id) == NOW
    assert [d.webhook_id for d in await claim(make_uow, acme, NOW + timedelta(days=1))] == [other.id]


async def test_deleting_an_endpoint_deletes_its_deliveries_and_attempts(make_uow: Factory) -> None:
    acme = await tenant(make_uow)
    hook = webhook(acme)
    pending, tried = delivery(hook, 1, NOW), delivery(hook, 2, NOW)
    await add_webhooks(make_uow, hook, deliveries=(pending, tried))
    async with make_uow() as uow:
        await uow.webhooks.finish_attempts(
            [replace(tried, attempts=1)], [attempt(tried, 1, AttemptOutcome(500, 5), NOW)]
        )
        assert await uow.webhooks.delete(acme.id, hook.id)
        await uow.commit()
    async with make_uow() as uow:
        assert await uow.webhooks.next_due(acme.id) is None
        assert await uow.webhooks.attempts(acme.id, hook.id, None, 10) == []


async def test_tenants_with_work_are_those_with_a_due_delivery_or_an_endpoint_behind_the_log(
    make_uow: Factory,
) -> None:
    due, behind, disabled, caught_up, not_yet, quiet = [
        await tenant(make_uow, slug) for slug in ("due", "behind", "disabled", "caught-up", "not-yet", "quiet")
    ]
    hooks = {
        owner.id: webhook(owner, cursor=cursor, enabled=owner is not disabled)
        for owner, cursor in ((due, 0), (behind, 1), (disabled, 0), (caught_up, 2), (not_yet, 0), (quiet, 0))
    }
    await add_webhooks(
        make_uow,
        *hooks.values(),
        deliveries=(delivery(hooks[due.id], 1, NOW), delivery(hooks[not_yet.id], 1, NOW + timedelta(seconds=1))),
    )
    for owner in (behind, disabled, caught_up):
        await commit_events(make_uow, event(owner), event(owner))
    async with make_uow() as uow:
        assert await uow.webhooks.tenants_with_work(NOW) == sorted([due.id, behind.id])


async def test_an_outcome_is_saved_only_under_the_claim_it_was_tried_under(make_uow: Factory) -> None:
    """A dispatcher whose claim ran out and was taken over finishes late: what it saves must not undo the newer
    outcome (a delivery put back to pending would be sent again)."""
    acme = await tenant(make_uow)
    hook = webhook(acme)
    item = delivery(hook, 1, NOW)
    await add_webhooks(make_uow, hook, deliveries=(item,))
    [slow] = await claim(make_uow, acme, NOW)
    later = NOW + timedelta(minutes=1)
    [fast] = await claim(make_uow, acme, later)
    async with make_uow() as uow:
        done = replace(fast, attempts=1, status=DeliveryStatus.DELIVERED, next_attempt_at=None)
        assert await uow.webhooks.finish_attempts(
            [done], [attempt(fast, 1, AttemptOutcome(200, 3), None)], fast.next_attempt_at
        ) == {item.id}
        await uow.commit()
    async with make_uow() as uow:
        failed = replace(slow, attempts=1, next_attempt_at=later)
        saved = await uow.webhooks.finish_attempts(
            [failed], [attempt(slow, 1, AttemptOutcome(None, 60_000, "timed out"), later)], slow.next_attempt_at
        )
        await uow.commit()
    assert saved == set()
    async with make_uow() as uow:
        assert [a.outcome.status_code for a in await uow.webhooks.attempts(acme.id, hook.id, None, 10)] == [200]
        assert await uow.webhooks.next_due(acme.id) is None
