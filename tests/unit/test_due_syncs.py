from dataclasses import replace
from datetime import timedelta

from adapters.memory.runtime import RecordingJobQueue
from application.accounts.create import CreateMailAccount
from application.sync.schedule import EnqueueDueSyncs
from domain.sync import AccountSync
from tests.unit.fakes import Fakes, new_account, principal


async def test_accounts_are_queued_when_never_synced_or_their_own_interval_has_passed() -> None:
    fakes, jobs = Fakes(), RecordingJobQueue()
    create = CreateMailAccount(fakes.uow, fakes.cipher, fakes.clock, fakes.verifier)
    hourly = await create(principal(), replace(new_account("hourly@example.com"), sync_interval_seconds=3600))
    often = await create(principal(), new_account("often@example.com"))
    fresh = await create(principal(), new_account("fresh@example.com"))
    for account in (hourly, often):
        done = AccountSync(account.tenant_id, account.id)
        done.finish(fakes.clock.now())
        fakes.uow.store.syncs[account.id] = done
    schedule = EnqueueDueSyncs(fakes.uow, jobs, fakes.clock)

    assert await schedule() == 1
    assert [job[2]["account_id"] for job in jobs.jobs] == [str(fresh.id)]
    fakes.clock.advance(timedelta(minutes=6))
    assert await schedule() == 1
    assert jobs.jobs[-1][2]["account_id"] == str(often.id)
    fakes.clock.advance(timedelta(hours=1))
    assert await schedule() == 1
    assert jobs.jobs[-1][2]["account_id"] == str(hourly.id)
