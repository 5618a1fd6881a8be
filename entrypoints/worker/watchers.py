import asyncio
import logging
from datetime import timedelta
from uuid import UUID

from dishka import AsyncContainer

from application.jobs import BackgroundJobs
from application.sync.watch import WatchInbox, WatchPool
from domain.ids import new_id
from domain.ports.persistence import TenantScope, UnitOfWork
from domain.ports.runtime import CHANGES_TOPIC, Clock, Doorbell, JobQueue
from entrypoints.settings import Settings

log = logging.getLogger("mailroom.watch")


async def watch_inboxes(container: AsyncContainer, settings: Settings, owner: str) -> None:
    """This process's share of the inbox watches (WatchPool) until cancelled; each watch gets its own dishka scope.
    If the pool fails (the database is away, say), it starts again after a pause: it must never take down the
    process it shares with the worker or the API."""
    scope = await container.get(TenantScope)
    doorbell = await container.get(Doorbell)
    clock = await container.get(Clock)

    async def watch(tenant_id: UUID, account_id: UUID) -> None:
        with scope(tenant_id):
            async with container() as request:
                await (await request.get(WatchInbox))(tenant_id, account_id)

    while True:
        try:
            with scope.system():  # the leases cross tenants
                async with container() as request:
                    pool = WatchPool(
                        await request.get(UnitOfWork),
                        watch,
                        clock,
                        owner,
                        capacity=settings.watches_per_process,
                        lease=timedelta(seconds=settings.watch_lease_seconds),
                        refresh_seconds=settings.idle_refresh_seconds,
                        doorbell=doorbell,
                    )
                    await pool()
        except Exception:
            log.exception("inbox watches stopped; starting again in %s s", settings.idle_refresh_seconds)
            await asyncio.sleep(settings.idle_refresh_seconds)


async def kick_webhook_dispatch(container: AsyncContainer) -> None:
    """Queues a webhook dispatch for each tenant whose change log grew (the doorbell rings on every commit that
    recorded events, in any process): a new event reaches its endpoints in the time a job takes to start, not at
    the next sweep. Runs in exactly one process, beside the scheduler; the sweep catches what a lost ring missed."""
    doorbell = await container.get(Doorbell)
    jobs = BackgroundJobs(await container.get(JobQueue))
    while True:
        try:
            async with doorbell.listen(CHANGES_TOPIC) as listener:
                while True:
                    for key in await listener.wait(60):
                        if key != "*":
                            await jobs.deliver_webhooks(new_id().hex, UUID(hex=key))
        except Exception:
            log.exception("webhook dispatch kicks stopped; starting again in 5 s")
            await asyncio.sleep(5)
