"""Two first sync requests for an account, on a real database: both find no sync status, and only one may queue
a job. Not run on the in-memory fake, whose rollback restores the whole store as it was when the unit of work
began, so it cannot interleave two units of work."""

from collections.abc import Awaitable, Callable
from types import TracebackType
from uuid import UUID

import pytest

from adapters.memory.runtime import ManualClock, RecordingJobQueue
from application.sync.request import RequestSync, SyncRequester
from domain.auth import Principal
from domain.ids import new_id
from domain.ports.persistence import UnitOfWork
from domain.sync import AccountSync, SyncPhase
from domain.tenants import Role
from tests.integration.test_mail_store_contract import folder

Factory = Callable[[], UnitOfWork]


class OtherRequestLandsFirst:
    """A unit of work in which another request runs to its end just after this one has read the account's
    (missing) sync status, and before it writes one."""

    def __init__(self, inner: UnitOfWork, other: Callable[[], Awaitable[AccountSync]]) -> None:
        self._inner = inner
        self._other: Callable[[], Awaitable[AccountSync]] | None = other

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    async def __aenter__(self) -> UnitOfWork:
        uow = await self._inner.__aenter__()
        read = uow.syncs.get

        async def get(tenant_id: UUID, account_id: UUID) -> AccountSync | None:
            found = await read(tenant_id, account_id)
            if self._other is not None:
                other, self._other = self._other, None
                await other()
            return found

        uow.syncs.get = get  # type: ignore[method-assign]
        return uow

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._inner.__aexit__(exc_type, exc, tb)


@pytest.mark.parametrize("make_uow", ["sqlite", "postgres"], indirect=True)
async def test_two_first_requests_at_once_queue_one_sync(make_uow: Factory) -> None:
    box = await folder(make_uow)
    owner = Principal(new_id(), box.tenant_id, Role.ADMIN)  # an admin reaches every account of the tenant
    jobs, clock = RecordingJobQueue(), ManualClock()
    other = RequestSync(make_uow(), SyncRequester(make_uow(), jobs, clock))
    racing_uow = OtherRequestLandsFirst(make_uow(), lambda: other(owner, box.account_id))
    racing = RequestSync(racing_uow, SyncRequester(racing_uow, jobs, clock))  # type: ignore[arg-type]

    answer = await racing(owner, box.account_id)

    assert answer.phase is SyncPhase.QUEUED
    assert [job_id for job_id, _, _ in jobs.jobs] == [answer.job_id]
    async with make_uow() as uow:
        stored = await uow.syncs.get(box.tenant_id, box.account_id)
    assert stored is not None
    assert stored.job_id == answer.job_id
