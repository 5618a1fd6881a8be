from uuid import UUID

from application.access.reach import reach_of
from application.jobs import BackgroundJobs
from domain.access import Reach
from domain.auth import Principal
from domain.errors import Conflict, NotFound
from domain.ids import new_id
from domain.ports.persistence import UnitOfWork
from domain.ports.runtime import Clock, JobQueue
from domain.sync import AccountSync, SyncPhase


class SyncRequester:
    """Queues a sync of an account, or answers the sync already queued or running. A running sync may have
    passed the folder that changed (the Sent folder after a send, the INBOX after new mail), so it is asked to
    run once more when it ends. Every trigger goes through here: the API, the scheduler, the inbox watches, a
    sent message filed in Sent, and a sync that was asked again or is giving its lease back.

    The queued state is committed before the job is sent: if sending fails, the sync counts as stalled after
    a while and the scheduler (or the next request) queues it again, so a request is never silently lost.
    """

    def __init__(self, uow: UnitOfWork, jobs: JobQueue, clock: Clock) -> None:
        self._uow = uow
        self._jobs = BackgroundJobs(jobs)
        self._clock = clock

    async def __call__(self, tenant_id: UUID, account_id: UUID) -> AccountSync:
        """Two first requests for an account may race to create its status; the loser tries once more and finds
        the winner's sync queued."""
        try:
            sync, job_id = await self._queue(tenant_id, account_id)
        except Conflict:
            sync, job_id = await self._queue(tenant_id, account_id)
        if job_id is not None:
            await self._jobs.sync_account(job_id, tenant_id, account_id)
        return sync

    async def _queue(self, tenant_id: UUID, account_id: UUID) -> tuple[AccountSync, str | None]:
        """The account's sync, and the id of the job this call queued (None: it was already queued, or is running
        and will run once more)."""
        uow, now = self._uow, self._clock.now()
        async with uow:
            if await uow.accounts.get(tenant_id, account_id) is None:
                raise NotFound("mail account not found")
            stored = await uow.syncs.get(tenant_id, account_id)
            sync = stored or AccountSync(tenant_id, account_id)
            if sync.in_progress and sync.job_id and not sync.stalled(now):
                if sync.phase is SyncPhase.QUEUED:
                    return sync, None
                if await uow.syncs.ask_to_run_again(account_id):
                    await uow.commit()
                    return sync, None
                sync = await uow.syncs.get(tenant_id, account_id) or sync
            job_id = new_id().hex
            sync.queue(job_id, now)
            if stored is None:
                await uow.syncs.add(sync)
            else:
                await uow.syncs.save(sync)
            await uow.commit()
        return sync, job_id


class RequestSync:
    """The API's request for a sync of an account the caller reaches (reading it is enough: a sync changes only
    Mailroom's copy)."""

    def __init__(self, uow: UnitOfWork, request_sync: SyncRequester) -> None:
        self._uow = uow
        self._request_sync = request_sync

    async def __call__(self, principal: Principal, account_id: UUID) -> AccountSync:
        async with self._uow as uow:
            (await reach_of(uow, principal, account_id)).require(account_id, Reach.READ)
        return await self._request_sync(principal.tenant_id, account_id)
