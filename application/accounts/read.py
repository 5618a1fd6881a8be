from uuid import UUID

from domain.accounts import MailAccount
from domain.auth import Principal
from domain.errors import NotFound
from domain.pagination import Page, PageRequest
from domain.ports.persistence import UnitOfWork


class GetMailAccount:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal, account_id: UUID) -> MailAccount:
        async with self._uow as uow:
            account = await uow.accounts.get(principal.tenant_id, account_id)
        if account is None:
            raise NotFound("mail account not found")
        return account


class ListMailAccounts:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal, page: PageRequest) -> Page[MailAccount]:
        async with self._uow as uow:
            return await uow.accounts.list(principal.tenant_id, page)
