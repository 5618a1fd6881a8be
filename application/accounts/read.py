from uuid import UUID

from application.access.reach import reach_of
from domain.access import Reach
from domain.accounts import MailAccount
from domain.auth import Principal
from domain.errors import NotFound
from domain.pagination import Page, PageRequest
from domain.ports.persistence import UnitOfWork


class GetMailAccount:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal, account_id: UUID, needed: Reach = Reach.READ) -> MailAccount:
        async with self._uow as uow:
            return await reachable_account(uow, principal, account_id, needed)


class ListMailAccounts:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal, page: PageRequest) -> Page[MailAccount]:
        """An admin's list is the tenant's accounts; a member's, those they own or were granted."""
        async with self._uow as uow:
            reach = await reach_of(uow, principal)
            return await uow.accounts.list(principal.tenant_id, page, only=reach.account_ids)


async def reachable_account(uow: UnitOfWork, principal: Principal, account_id: UUID, needed: Reach) -> MailAccount:
    """The account, in `uow`'s open transaction, once the caller is found to reach it as far as `needed`."""
    (await reach_of(uow, principal, account_id)).require(account_id, needed)
    account = await uow.accounts.get(principal.tenant_id, account_id)
    if account is None:
        raise NotFound("mail account not found")
    return account
