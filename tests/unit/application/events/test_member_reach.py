"""What a member reads of the change log: the feed, the stream and their webhooks carry only the accounts the
member reaches now, and a stream ends with its session."""

import asyncio
from uuid import UUID

from adapters.memory.webhooks import ScriptedWebhookTransport
from adapters.signals.local import LocalDoorbell
from application.auth.authenticate import StillSignedIn
from application.events.dispatch import DispatchWebhooks
from application.events.feed import FollowChanges, ListChanges
from application.events.settings import EventSettings
from application.events.webhooks import CreateWebhook, WebhookSpec
from domain.access import Grant, GrantAccess
from domain.auth import Principal
from domain.changes import Change, ChangeFilter, ChangeType, LoggedChange
from domain.ids import new_id
from domain.tenants import Role
from tests.unit.fakes import Fakes, principal


class World:
    def __init__(self) -> None:
        self.fakes = Fakes()
        self.admin = principal(Role.ADMIN, self.fakes)
        self.bob = principal(Role.MEMBER, self.fakes, tenant_id=self.admin.tenant_id)
        self.bob = Principal(self.bob.user_id, self.bob.tenant_id, self.bob.role, session_id=new_id())
        self.shared, self.private = new_id(), new_id()

    async def record(self, account: UUID | None) -> None:
        async with self.fakes.uow as uow:
            change = Change(new_id(), ChangeType.MESSAGE_CREATED, self.admin.tenant_id, account, self.fakes.clock.now())
            uow.changes.record(change)
            await uow.commit()

    async def grant(self, access: GrantAccess | None) -> None:
        store, key = self.fakes.uow.store, (self.shared, self.bob.user_id)
        if access is None:
            store.grants.pop(key, None)
        else:
            store.grants[key] = Grant(
                self.admin.tenant_id, self.shared, self.bob.user_id, access, None, self.fakes.clock.now()
            )


async def test_a_members_feed_holds_the_events_of_the_accounts_they_reach_now() -> None:
    world = World()
    await world.grant(GrantAccess.READ)
    for account in (world.shared, world.private, None):
        await world.record(account)
    feed = ListChanges(world.fakes.uow)
    assert [i.change.account_id for i in (await feed(world.bob, "0", 10, ChangeFilter())).items] == [world.shared]
    assert len((await feed(world.admin, "0", 10, ChangeFilter())).items) == 3
    await world.grant(None)
    assert (await feed(world.bob, "0", 10, ChangeFilter())).items == []


async def test_a_members_webhook_gets_their_accounts_events_and_nothing_once_they_are_disabled() -> None:
    world = World()
    receivers, f = ScriptedWebhookTransport(), world.fakes
    create = CreateWebhook(f.uow, receivers, f.clock, f.auditor, f.cipher)
    await create(world.bob, WebhookSpec(url="https://hooks.example.com/", events=["*"]))
    await world.grant(GrantAccess.FULL)
    for account in (world.shared, world.private, None):
        await world.record(account)
    dispatch = DispatchWebhooks(f.uow, receivers, f.cipher, f.clock, EventSettings(linger_seconds=0))
    assert (await dispatch(world.admin.tenant_id)).delivered == 1
    assert [d[2].change.account_id for d in receivers.delivered] == [world.shared]

    bob = f.uow.store.users[world.bob.user_id]
    bob.disabled = True
    await world.record(world.shared)
    assert (await dispatch(world.admin.tenant_id)).delivered == 0


async def follow(world: World, wanted: ChangeFilter | None = None) -> tuple[FollowChanges, asyncio.Task[list]]:
    f, wanted = world.fakes, wanted or ChangeFilter()
    stream = FollowChanges(
        f.uow, LocalDoorbell(), EventSettings(heartbeat_seconds=0.01), StillSignedIn(f.uow, f.revoked, f.clock)
    )
    start = await stream.start(world.bob, None, wanted)

    async def collect() -> list[LoggedChange | None]:
        return [item async for item in stream.follow(world.bob, start, wanted)]

    return stream, asyncio.create_task(collect())


async def test_a_stream_ends_when_its_session_ends() -> None:
    world = World()
    _, task = await follow(world)
    await asyncio.sleep(0.05)
    assert not task.done()
    await world.fakes.revoked.revoke([world.bob.session_id])  # type: ignore[list-item]
    items = await asyncio.wait_for(task, 1)
    assert all(item is None for item in items), "only heartbeats: nothing of an account out of reach"


async def test_a_stream_of_one_account_ends_when_its_grant_is_taken_back() -> None:
    world = World()
    await world.grant(GrantAccess.READ)
    _, task = await follow(world, ChangeFilter(account_ids=frozenset({world.shared})))
    await world.record(world.shared)
    await asyncio.sleep(0.05)
    await world.grant(None)
    items = await asyncio.wait_for(task, 1)
    assert [i.change.account_id for i in items if i is not None] == [world.shared]
