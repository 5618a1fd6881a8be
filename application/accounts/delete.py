from uuid import UUID

from domain.auth import Principal
from domain.errors import NotFound
from domain.ports.persistence import UnitOfWork


class DeleteMailAccount:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal, account_id: UUID) -> None:
        async with self._uow as uow:
            if not await uow.accounts.delete(principal.tenant_id, account_id):
                raise NotFound("mail account not found")
            await uow.commit()
