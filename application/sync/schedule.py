from application.sync.request import SyncRequester
from domain.ports.persistence import UnitOfWork
from domain.ports.runtime import Clock


class EnqueueDueSyncs:
    """Run by the scheduler: queues every account that never synced or whose last sync finished its own
    interval ago. Returns how many were queued."""

    def __init__(self, uow: UnitOfWork, clock: Clock, request_sync: SyncRequester) -> None:
        self._uow = uow
        self._clock = clock
        self._request_sync = request_sync

    async def __call__(self) -> int:
        async with self._uow as uow:
            due = await uow.syncs.due(self._clock.now())
        for tenant_id, account_id in due:
            await self._request_sync(tenant_id, account_id)
        return len(due)
