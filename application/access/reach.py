"""How far the caller reaches into the tenant's accounts (domain.access), read in the caller's transaction."""

from uuid import UUID

from domain.access import EVERYTHING, AccountReach
from domain.auth import Principal
from domain.ports.persistence import UnitOfWork


async def reach_of(uow: UnitOfWork, principal: Principal, account_id: UUID | None = None) -> AccountReach:
    """An admin reaches everything without a query; a member, what `uow.grants.reach` finds (only `account_id`,
    given it: one indexed look-up for a request about one account)."""
    if principal.is_admin:
        return EVERYTHING
    return AccountReach(False, await uow.grants.reach(principal.tenant_id, principal.user_id, account_id))
