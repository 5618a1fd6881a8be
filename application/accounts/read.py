from collections.abc import Sequence
from dataclasses import replace
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
            account = await reachable_account(uow, principal, account_id, needed)
            [shown] = await with_grant_status(uow, [account])
        return shown


class ListMailAccounts:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal, page: PageRequest) -> Page[MailAccount]:
        """An admin's list is the tenant's accounts; a member's, those they own or were granted."""
        async with self._uow as uow:
            reach = await reach_of(uow, principal)
            found = await uow.accounts.list(principal.tenant_id, page, only=reach.account_ids)
            return replace(found, items=await with_grant_status(uow, found.items))


async def reachable_account(uow: UnitOfWork, principal: Principal, account_id: UUID, needed: Reach) -> MailAccount:
    """The account, in `uow`'s open transaction, once the caller is found to reach it as far as `needed`."""
    (await reach_of(uow, principal, account_id)).require(account_id, needed)
    account = await uow.accounts.get(principal.tenant_id, account_id)
    if account is None:
        raise NotFound("mail account not found")
    return account


async def with_grant_status(uow: UnitOfWork, accounts: Sequence[MailAccount]) -> list[MailAccount]:
    """The accounts with what their users see of their OAuth2 grants: one read, and only where some side signs in
    with OAuth2. Only for the answers that show it; the sync, sending and search read accounts without it."""
    oauth = [a for a in accounts if a.uses_oauth]
    if not oauth:
        return list(accounts)
    found = await uow.oauth_grants.statuses(oauth[0].tenant_id, [a.id for a in oauth])
    return [replace(a, oauth=found[a.id]) if a.id in found else a for a in accounts]
