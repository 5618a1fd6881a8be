"""The change feed and webhook deliveries on the fakes: cursors, retention, filters, retries, disabling, leases."""

from datetime import timedelta
from uuid import UUID

import pytest

from adapters.memory.webhooks import ScriptedWebhookTransport
from application.accounts.create import CreateMailAccount
from application.events.dispatch import DispatchCounts, DispatchWebhooks, PruneChanges
from application.events.feed import ListChanges
from application.events.settings import EventSettings
from application.events.webhooks import (
    CreateWebhook,
    ListDeliveries,
    SendTestEvent,
    UpdateWebhook,
    WebhookSpec,
)
from domain.auth import Principal
from domain.changes import Change, ChangeFilter, ChangeType, CursorExpired
from domain.errors import Conflict, InvalidInput
from domain.ids import new_id
from domain.tenants import Role
from domain.webhooks import AttemptOutcome, DeliveryStatus, RetrySchedule
from tests.unit.fakes import Fakes, new_account, principal

URL = "https://hooks.example.com/in"


class World:
    def __init__(self, retry: tuple[float, ...] = (5, 30, 120)) -> None:
        self.fakes = Fakes()
        self.receivers = ScriptedWebhookTransport()
        self.settings = EventSettings(retry=RetrySchedule(retry), linger_seconds=0)
        self.alice = principal(Role.ADMIN, self.fakes)  # the tenant's whole log (a member's: test_member_reach.py)

    async def record(
        self, who: Principal, kind: ChangeType = ChangeType.MESSAGE_CREATED, account: UUID | None = None
    ) -> None:
        async with self.fakes.uow as uow:
            uow.changes.record(Change(new_id(), kind, who.tenant_id, account, self.fakes.clock.now(), {"n": 1}))
            await uow.commit()

    async def webhook(
        self, who: Principal, events: list[str] | None = None, accounts: list[UUID] | None = None
    ) -> UUID:
        create = CreateWebhook(self.fakes.uow, self.receivers, self.fakes.clock, self.fakes.auditor, self.fakes.cipher)
        made = await create(who, WebhookSpec(url=URL, events=events or ["*"], account_ids=accounts))
        assert made.secret.startswith("whsec_")
        return made.webhook.id

    def dispatch(self) -> DispatchWebhooks:
        f = self.fakes
        return DispatchWebhooks(f.uow, self.receivers, f.cipher, f.clock, self.settings)

    def deliveries(self) -> list:
        return sorted(self.fakes.uow.store.deliveries.values(), key=lambda d: d.sequence)


async def test_the_feed_starts_now_without_a_cursor_and_then_gives_what_follows() -> None:
    world = World()
    await world.record(world.alice)
    feed = ListChanges(world.fakes.uow)
    start = await feed(world.alice, None, 100, ChangeFilter())
    assert (start.items, start.has_more) == ([], False)
    for _ in range(3):
        await world.record(world.alice)
    page = await feed(world.alice, start.next_cursor, 2, ChangeFilter())
    assert ([i.sequence for i in page.items], page.has_more) == ([2, 3], True)
    rest = await feed(world.alice, page.next_cursor, 2, ChangeFilter())
    assert ([i.sequence for i in rest.items], rest.has_more, rest.next_cursor) == ([4], False, "4")


async def test_a_filtered_feed_moves_its_cursor_past_what_it_skipped() -> None:
    world = World()
    account = new_id()
    feed = ListChanges(world.fakes.uow)
    start = await feed(world.alice, None, 100, ChangeFilter())
    await world.record(world.alice, ChangeType.MESSAGE_CREATED, account)
    await world.record(world.alice, ChangeType.MESSAGE_DELETED, account)
    await world.record(world.alice, ChangeType.MESSAGE_CREATED, new_id())
    wanted = ChangeFilter(frozenset({ChangeType.MESSAGE_CREATED}), frozenset({account}))
    page = await feed(world.alice, start.next_cursor, 100, wanted)
    assert [i.sequence for i in page.items] == [1]
    assert page.next_cursor == "3"


async def test_each_tenant_has_its_own_log_and_another_tenants_cursor_is_refused() -> None:
    world = World()
    bob = principal()
    for _ in range(3):
        await world.record(bob)
    feed = ListChanges(world.fakes.uow)
    assert (await feed(world.alice, "0", 100, ChangeFilter())).items == []
    with pytest.raises(CursorExpired):
        await feed(world.alice, "3", 100, ChangeFilter())
    with pytest.raises(InvalidInput):
        await feed(world.alice, "-1", 100, ChangeFilter())


async def test_a_cursor_older_than_the_retention_is_expired() -> None:
    world = World()
    await world.record(world.alice)
    await world.record(world.alice)
    world.fakes.clock.advance(timedelta(days=8))
    await world.record(world.alice)
    assert await PruneChanges(world.fakes.uow, world.fakes.clock, world.settings)() == 2
    feed = ListChanges(world.fakes.uow)
    with pytest.raises(CursorExpired):
        await feed(world.alice, "1", 100, ChangeFilter())
    assert [i.sequence for i in (await feed(world.alice, "2", 100, ChangeFilter())).items] == [3]


async def test_an_endpoint_gets_the_events_after_its_creation_that_it_chose() -> None:
    world = World()
    f = world.fakes
    account = (await CreateMailAccount(f.uow, f.cipher, f.clock, f.verifier, f.auditor)(world.alice, new_account())).id
    await world.record(world.alice, account=account)
    await world.webhook(world.alice, ["message.created"], [account])
    await world.record(world.alice, ChangeType.MESSAGE_CREATED, account)
    await world.record(world.alice, ChangeType.MESSAGE_DELETED, account)
    await world.record(world.alice, ChangeType.MESSAGE_CREATED, new_id())
    await world.record(principal(), ChangeType.MESSAGE_CREATED, account)
    assert (await world.dispatch()(world.alice.tenant_id)).delivered == 1
    [(url, secret, event, _)] = world.receivers.delivered
    assert (url, event.sequence, event.change.tenant_id) == (URL, 2, world.alice.tenant_id)
    assert secret.startswith("whsec_")
    assert (await world.dispatch()(world.alice.tenant_id)).delivered == 0, "delivered once"


async def test_a_failing_receiver_gets_the_event_again_on_the_schedule_until_it_answers() -> None:
    world = World()
    webhook_id = await world.webhook(world.alice)
    await world.record(world.alice)
    world.receivers.answer(
        URL, AttemptOutcome(500, 3), AttemptOutcome(None, 15000, "timed out"), AttemptOutcome(503, 2)
    )
    dispatch = world.dispatch()
    assert await dispatch(world.alice.tenant_id) == DispatchCounts(retry=1)
    for wait in (5, 30):
        world.fakes.clock.advance(timedelta(seconds=wait - 1))
        assert await dispatch(world.alice.tenant_id) == DispatchCounts(), "not due yet"
        world.fakes.clock.advance(timedelta(seconds=1))
        assert await dispatch(world.alice.tenant_id) == DispatchCounts(retry=1)
    world.fakes.clock.advance(timedelta(seconds=120))
    assert await dispatch(world.alice.tenant_id) == DispatchCounts(delivered=1)
    assert len(world.receivers.delivered) == 4
    [delivery] = world.deliveries()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 4)
    attempts = await ListDeliveries(world.fakes.uow)(world.alice, webhook_id, None, 50)
    assert [a.outcome.status_code for a in attempts] == [200, 503, None, 500]
    assert attempts[1].next_attempt_at == world.fakes.clock.now()
    assert attempts[0].next_attempt_at is None


async def test_410_disables_the_endpoint_and_announces_it() -> None:
    world = World()
    webhook_id = await world.webhook(world.alice)
    await world.record(world.alice)
    await world.record(world.alice)
    world.receivers.answer(URL, AttemptOutcome(410, 1), AttemptOutcome(500, 1))
    counts = await world.dispatch()(world.alice.tenant_id)
    assert counts == DispatchCounts(failed=2, endpoints_disabled=1), "the 500 is not retried on a disabled endpoint"
    webhook = world.fakes.uow.store.webhooks[webhook_id]
    assert (webhook.enabled, webhook.disabled_reason) == (False, "the receiver answered 410 Gone")
    assert [d.status for d in world.deliveries()] == [DeliveryStatus.FAILED, DeliveryStatus.FAILED]
    await world.record(world.alice)
    await world.dispatch()(world.alice.tenant_id)
    assert len(world.receivers.delivered) == 2, "nothing more goes to a disabled endpoint"
    async with world.fakes.uow as uow:
        logged = await uow.changes.after(world.alice.tenant_id, 0, 100)
    [disabled] = [e for e in logged if e.change.type is ChangeType.WEBHOOK_DISABLED]
    assert disabled.change.data["webhook"]["id"] == str(webhook_id)


async def test_failing_past_the_schedule_disables_the_endpoint_and_enabling_starts_from_now() -> None:
    world = World(retry=(5,))
    webhook_id = await world.webhook(world.alice)
    await world.record(world.alice)
    world.receivers.answer(URL, AttemptOutcome(500, 1), AttemptOutcome(500, 1))
    await world.dispatch()(world.alice.tenant_id)
    world.fakes.clock.advance(timedelta(seconds=5))
    assert await world.dispatch()(world.alice.tenant_id) == DispatchCounts(failed=1, endpoints_disabled=1)
    webhook = world.fakes.uow.store.webhooks[webhook_id]
    assert not webhook.enabled
    assert webhook.disabled_reason == "failed 2 times over the whole retry schedule"

    await world.record(world.alice)
    update = UpdateWebhook(world.fakes.uow, world.receivers, world.fakes.clock, world.fakes.auditor)
    assert (await update(world.alice, webhook_id, WebhookSpec(enabled=True))).enabled
    await world.record(world.alice)
    await world.dispatch()(world.alice.tenant_id)
    assert [e.sequence for _, _, e, _ in world.receivers.delivered][-1] == 4
    assert len(world.receivers.delivered) == 3, "what happened while disabled is in the feed, not redelivered"


async def test_a_dispatcher_that_dies_mid_delivery_leaves_its_claims_to_the_next_after_the_lease() -> None:
    world = World()
    await world.webhook(world.alice)
    await world.record(world.alice)
    dead = world.dispatch()
    await dead._fan_out(world.alice.tenant_id)
    assert len(await dead._claim(world.alice.tenant_id)) == 1  # and then the worker is killed
    assert (await world.dispatch()(world.alice.tenant_id)).delivered == 0, "claimed: not delivered twice at once"
    world.fakes.clock.advance(world.settings.lease)
    assert (await world.dispatch()(world.alice.tenant_id)).delivered == 1
    assert [d.status for d in world.deliveries()] == [DeliveryStatus.DELIVERED]


async def test_an_endpoint_must_be_a_public_http_url_and_name_known_accounts() -> None:
    world = World()
    world.receivers.refused["http://10.0.0.1/x"] = "refused: 10.0.0.1 is not a public address"
    create = CreateWebhook(world.fakes.uow, world.receivers, world.fakes.clock, world.fakes.auditor, world.fakes.cipher)
    for url, field in [
        ("ftp://example.com/", "url"),
        ("https://user:pw@example.com/", "url"),
        ("http://10.0.0.1/x", "url"),
    ]:
        with pytest.raises(InvalidInput) as error:
            await create(world.alice, WebhookSpec(url=url, events=["*"]))
        assert error.value.field == field
    with pytest.raises(InvalidInput) as error:
        await create(world.alice, WebhookSpec(url=URL, events=["message.exploded"]))
    assert error.value.field == "events"
    with pytest.raises(InvalidInput) as error:
        await create(world.alice, WebhookSpec(url=URL, events=["*"], account_ids=[new_id()]))
    assert error.value.field == "account_ids"
    assert world.fakes.uow.store.webhooks == {}


async def test_the_test_event_is_signed_and_sent_now_and_not_logged() -> None:
    world = World()
    webhook_id = await world.webhook(world.alice)
    event, outcome = await SendTestEvent(world.fakes.uow, world.receivers, world.fakes.cipher, world.fakes.clock)(
        world.alice, webhook_id
    )
    assert outcome.succeeded
    assert event.change.type is ChangeType.WEBHOOK_TEST
    assert world.receivers.delivered[0][2] == event
    async with world.fakes.uow as uow:
        assert await uow.changes.after(world.alice.tenant_id, 0, 10) == []


async def test_pruning_takes_finished_deliveries_and_their_attempts_with_the_old_events() -> None:
    world = World()
    webhook_id = await world.webhook(world.alice)
    await world.record(world.alice)
    await world.dispatch()(world.alice.tenant_id)
    world.fakes.clock.advance(timedelta(days=8))
    await world.record(world.alice)
    world.receivers.answer(URL, AttemptOutcome(500, 1))
    await world.dispatch()(world.alice.tenant_id)
    await PruneChanges(world.fakes.uow, world.fakes.clock, world.settings)()
    [left] = world.deliveries()
    assert (left.status, left.sequence) == (DeliveryStatus.PENDING, 2), "a pending delivery is kept"
    attempts = await ListDeliveries(world.fakes.uow)(world.alice, webhook_id, None, 50)
    assert [a.outcome.status_code for a in attempts] == [500]


async def test_a_tenant_has_at_most_fifty_endpoints() -> None:
    world = World()
    for _ in range(50):
        await world.webhook(world.alice)
    with pytest.raises(Conflict):
        await world.webhook(world.alice)
    assert await world.webhook(principal(Role.ADMIN, world.fakes)), "another tenant has its own fifty"


async def test_a_dispatcher_whose_claim_ran_out_changes_nothing_when_it_finishes_late() -> None:
    world = World()
    webhook_id = await world.webhook(world.alice)
    await world.record(world.alice)
    slow = world.dispatch()
    await slow._fan_out(world.alice.tenant_id)
    claimed = await slow._claim(world.alice.tenant_id)
    world.fakes.clock.advance(world.settings.lease)  # its receiver hangs past the lease
    assert (await world.dispatch()(world.alice.tenant_id)).delivered == 1, "another dispatcher took the claim over"
    world.receivers.answer(URL, AttemptOutcome(None, 15_000, "timed out"))
    assert await slow._deliver(world.alice.tenant_id, claimed) == DispatchCounts()
    [delivery] = world.deliveries()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 1), "not put back to pending"
    attempts = await ListDeliveries(world.fakes.uow)(world.alice, webhook_id, None, 50)
    assert [a.outcome.status_code for a in attempts] == [200]
