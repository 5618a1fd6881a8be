from dataclasses import replace
from datetime import timedelta

from adapters.memory.runtime import RecordingJobQueue
from application.accounts.create import CreateMailAccount
from application.sync.request import SyncRequester
from application.sync.schedule import EnqueueDueSyncs
from domain.sync import AccountSync, SyncPhase
from tests.unit.fakes import Fakes, new_account, principal


def finish_queued(fakes: Fakes) -> None:
    """What a worker would do with the queued jobs."""
    for sync in fakes.uow.store.syncs.values():
        if sync.phase is SyncPhase.QUEUED:
            sync.finish(fakes.clock.now())


async def test_accounts_are_queued_when_never_synced_or_their_own_interval_has_passed() -> None:
    fakes, jobs = Fakes(), RecordingJobQueue()
    create = CreateMailAccount(fakes.uow, fakes.cipher, fakes.clock, fakes.verifier, fakes.auditor)
    hourly = await create(principal(), replace(new_account("hourly@example.com"), sync_interval_seconds=3600))
    often = await create(principal(), new_account("often@example.com"))
    fresh = await create(principal(), new_account("fresh@example.com"))
    for account in (hourly, often):
        done = AccountSync(account.tenant_id, account.id)
        done.finish(fakes.clock.now())
        fakes.uow.store.syncs[account.id] = done
    schedule = EnqueueDueSyncs(fakes.uow, fakes.clock, SyncRequester(fakes.uow, jobs, fakes.clock))

    async def queued_now() -> set[str]:
        before = len(jobs.jobs)
        await schedule()
        finish_queued(fakes)
        return {job[2]["account_id"] for job in jobs.jobs[before:]}

    assert await queued_now() == {str(fresh.id)}
    fakes.clock.advance(timedelta(minutes=6))
    assert await queued_now() == {str(often.id), str(fresh.id)}
    fakes.clock.advance(timedelta(minutes=34))
    assert await queued_now() == {str(often.id), str(fresh.id)}
    fakes.clock.advance(timedelta(minutes=21))
    assert await queued_now() == {str(hourly.id), str(often.id), str(fresh.id)}


async def test_a_queued_job_that_never_ran_is_queued_again_after_15_minutes() -> None:
    fakes, jobs = Fakes(), RecordingJobQueue()
    account = await CreateMailAccount(fakes.uow, fakes.cipher, fakes.clock, fakes.verifier, fakes.auditor)(
        principal(), new_account()
    )
    schedule = EnqueueDueSyncs(fakes.uow, fakes.clock, SyncRequester(fakes.uow, jobs, fakes.clock))
    assert await schedule() == 1
    fakes.clock.advance(timedelta(minutes=14))
    assert await schedule() == 0
    fakes.clock.advance(timedelta(minutes=1))
    assert await schedule() == 1
    assert [job[2]["account_id"] for job in jobs.jobs] == [str(account.id)] * 2
    assert jobs.jobs[0][0] != jobs.jobs[1][0]
