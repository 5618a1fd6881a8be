"""The cross-tenant counts the metrics read (application.backlog): webhook deliveries due, and accounts failing
their syncs for a while; on SQLite, Postgres and the in-memory fake."""

from collections.abc import Callable
from datetime import timedelta

from adapters.memory.runtime import ManualClock
from application.backlog import FAILING_FOR, Backlog, ReadBacklog
from domain.ports.persistence import UnitOfWork
from domain.sync import AccountSync
from domain.webhooks import DeliveryStatus
from tests.integration.test_change_log_contract import NOW, add_webhooks, claim, delivery, webhook
from tests.integration.test_persistence_contract import account, store, tenant

Factory = Callable[[], UnitOfWork]


async def test_deliveries_due_are_the_pending_ones_due_now_of_every_tenant(make_uow: Factory) -> None:
    acme, globex = await tenant(make_uow), await tenant(make_uow, "globex")
    mine, theirs = webhook(acme), webhook(globex)
    later = NOW + timedelta(seconds=1)
    await add_webhooks(
        make_uow,
        mine,
        theirs,
        deliveries=(
            delivery(mine, 1, NOW - timedelta(hours=1)),
            delivery(mine, 2, NOW),
            delivery(theirs, 1, NOW),
            delivery(theirs, 2, later),
            delivery(theirs, 3, None, DeliveryStatus.DELIVERED),
            delivery(theirs, 4, None, DeliveryStatus.FAILED),
        ),
    )
    async with make_uow() as uow:
        assert await uow.webhooks.count_due(NOW) == 3
    await claim(make_uow, acme, NOW)
    async with make_uow() as uow:
        assert await uow.webhooks.count_due(NOW) == 1, "a claimed delivery is not due until its lease ends"
        assert await uow.webhooks.count_due(later) == 2


async def test_accounts_failing_are_those_whose_error_episode_began_long_enough_ago(make_uow: Factory) -> None:
    acme, globex = await tenant(make_uow), await tenant(make_uow, "globex")
    accounts = [account(acme, "a@example.com"), account(acme, "b@example.com"), account(globex), account(globex, "c@x")]
    await store(make_uow, *accounts)
    old, new, recovered, never = accounts
    async with make_uow() as uow:
        for item, failed_at in ((old, NOW - FAILING_FOR), (new, NOW - FAILING_FOR + timedelta(seconds=1))):
            sync = AccountSync(item.tenant_id, item.id)
            sync.fail(failed_at, "imap: TLS failed")
            sync.fail(NOW, "imap: TLS failed again")  # a retry that failed too: the same episode
            await uow.syncs.add(sync)
        sync = AccountSync(recovered.tenant_id, recovered.id)
        sync.fail(NOW - timedelta(hours=2), "imap: timed out")
        sync.finish(NOW - timedelta(hours=1))
        await uow.syncs.add(sync)
        await uow.syncs.add(AccountSync(never.tenant_id, never.id))
        await uow.commit()
    async with make_uow() as uow:
        assert await uow.syncs.count_failing_since(NOW - FAILING_FOR) == 1
        assert await uow.syncs.count_failing_since(NOW) == 2
    clock = ManualClock(NOW)
    assert await ReadBacklog(make_uow(), clock)() == Backlog(webhook_deliveries_due=0, accounts_sync_failing=1)
