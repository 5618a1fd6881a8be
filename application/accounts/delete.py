from uuid import UUID

from application.access.reach import reach_of
from application.audit import Auditor
from domain.access import Reach
from domain.audit import AuditAction
from domain.auth import Principal
from domain.errors import NotFound
from domain.ports.persistence import UnitOfWork


class DeleteMailAccount:
    def __init__(self, uow: UnitOfWork, auditor: Auditor) -> None:
        self._uow = uow
        self._auditor = auditor

    async def __call__(self, principal: Principal, account_id: UUID) -> None:
        async with self._uow as uow:
            (await reach_of(uow, principal, account_id)).require(account_id, Reach.MANAGE)
            if not await uow.accounts.delete(principal.tenant_id, account_id):
                raise NotFound("mail account not found")
            await self._auditor.record(
                uow, AuditAction.ACCOUNT_DELETED, principal.tenant_id, principal.user_id, account_id
            )
            await uow.commit()
