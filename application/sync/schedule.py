from application.sync.request import request_sync
from domain.ports.persistence import UnitOfWork
from domain.ports.runtime import Clock, JobQueue


class EnqueueDueSyncs:
    """Run by the scheduler: queues every account that never synced or whose last sync finished its own
    interval ago. Returns how many were queued."""

    def __init__(self, uow: UnitOfWork, jobs: JobQueue, clock: Clock) -> None:
        self._uow = uow
        self._jobs = jobs
        self._clock = clock

    async def __call__(self) -> int:
        async with self._uow as uow:
            due = await uow.syncs.due(self._clock.now())
        for tenant_id, account_id in due:
            await request_sync(self._uow, self._jobs, self._clock, tenant_id, account_id)
        return len(due)
