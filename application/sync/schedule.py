from datetime import timedelta

from application.sync.request import request_sync
from domain.ports.persistence import UnitOfWork
from domain.ports.runtime import Clock, JobQueue


class EnqueueDueSyncs:
    """Run by the scheduler: queues every account whose last sync finished `interval` ago or that never
    synced. Returns how many were queued."""

    def __init__(self, uow: UnitOfWork, jobs: JobQueue, clock: Clock, interval: timedelta) -> None:
        self._uow = uow
        self._jobs = jobs
        self._clock = clock
        self._interval = interval

    async def __call__(self) -> int:
        async with self._uow as uow:
            due = await uow.syncs.due(self._clock.now() - self._interval)
        for tenant_id, account_id in due:
            await request_sync(self._uow, self._jobs, tenant_id, account_id)
        return len(due)
