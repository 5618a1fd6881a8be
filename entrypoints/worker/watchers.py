import asyncio
import logging
from uuid import UUID

from dishka import AsyncContainer

from application.sync.watch import WatchInbox, WatchInboxes
from domain.ports.persistence import TenantScope, UnitOfWork
from entrypoints.settings import Settings

log = logging.getLogger("mailroom.watch")


async def watch_inboxes(container: AsyncContainer, settings: Settings) -> None:
    """Runs the inbox watches of every account until cancelled; each watch gets its own dishka scope.
    If the watches fail (the database is away, say), they start again after a pause: they must never take
    down the process they share with the scheduler or the API."""
    scope = await container.get(TenantScope)

    async def watch(tenant_id: UUID, account_id: UUID) -> None:
        with scope(tenant_id):
            async with container() as request:
                await (await request.get(WatchInbox))(tenant_id, account_id)

    while True:
        try:
            with scope.system():  # the list of every tenant's accounts
                async with container() as request:
                    await WatchInboxes(await request.get(UnitOfWork), watch, settings.idle_refresh_seconds)()
        except Exception:
            log.exception("inbox watches stopped; starting again in %s s", settings.idle_refresh_seconds)
            await asyncio.sleep(settings.idle_refresh_seconds)
