"""The backlog the metrics report, on the fakes: a delivery waiting for its retry is due once its time comes, and
an account counts as failing once its syncs have failed for FAILING_FOR."""

from datetime import timedelta

from application.backlog import FAILING_FOR, Backlog, ReadBacklog
from domain.webhooks import AttemptOutcome
from tests.unit.application.events.test_feed_and_webhooks import URL
from tests.unit.application.events.test_feed_and_webhooks import World as Webhooks
from tests.unit.application.sync.test_sync_account import World as Syncs
from tests.unit.application.test_rejection_kinds import TLS_FAILED


async def test_a_delivery_waiting_for_its_retry_is_due_when_its_time_comes() -> None:
    world = Webhooks(retry=(5,))
    read = ReadBacklog(world.fakes.uow, world.fakes.clock)
    await world.webhook(world.alice)
    await world.record(world.alice)
    world.receivers.answer(URL, AttemptOutcome(503, 1))
    await world.dispatch()(world.alice.tenant_id)
    assert await read() == Backlog(webhook_deliveries_due=0, accounts_sync_failing=0)
    world.fakes.clock.advance(timedelta(seconds=5))
    assert await read() == Backlog(webhook_deliveries_due=1, accounts_sync_failing=0)
    await world.dispatch()(world.alice.tenant_id)
    assert (await read()).webhook_deliveries_due == 0


async def test_an_account_counts_as_failing_after_half_an_hour_of_failed_syncs_and_not_once_it_recovers() -> None:
    world = Syncs()
    read = ReadBacklog(world.fakes.uow, world.fakes.clock)
    account = await world.account()
    world.server.refuses_connection = TLS_FAILED
    await world.sync()(account.tenant_id, account.id, "w")
    world.fakes.clock.advance(FAILING_FOR - timedelta(seconds=1))
    await world.sync()(account.tenant_id, account.id, "w")
    assert (await read()).accounts_sync_failing == 0
    world.fakes.clock.advance(timedelta(seconds=1))
    assert (await read()).accounts_sync_failing == 1
    world.server.refuses_connection = None
    await world.sync()(account.tenant_id, account.id, "w")
    assert (await read()).accounts_sync_failing == 0
