from application.jobs import BackgroundJobs
from domain.ids import new_id
from domain.ports.persistence import UnitOfWork
from domain.ports.runtime import Clock, JobQueue

BATCH = 1000


class EnqueueDueSends:
    """Run by the scheduler: sends a job for every draft that is due (a scheduled send whose time came, a retry
    left to the scheduler) or whose job was lost (queued for long, or sending under an expired lease because its
    worker died). A job sent twice does no harm: only one can take the draft's lease. Returns how many."""

    def __init__(self, uow: UnitOfWork, jobs: JobQueue, clock: Clock) -> None:
        self._uow = uow
        self._jobs = BackgroundJobs(jobs)
        self._clock = clock

    async def __call__(self) -> int:
        now = self._clock.now()
        async with self._uow as uow:
            due = await uow.drafts.needing_jobs(now, BATCH)
            for _, draft_id in due:
                await uow.drafts.mark_enqueued(draft_id, now)
            await uow.commit()
        for tenant_id, draft_id in due:
            await self._jobs.send_draft(new_id().hex, tenant_id, draft_id)
        return len(due)
