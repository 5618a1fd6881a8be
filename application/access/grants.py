"""Sharing an account with other users of its tenant (shared mailboxes such as support@): its owner or an admin
grants `read` or `full` access, changes it, or takes it back."""

from uuid import UUID

from application.access.reach import reach_of
from application.audit import Auditor
from domain.access import Grant, GrantAccess, Reach
from domain.audit import AuditAction
from domain.auth import Principal
from domain.errors import InvalidInput, NotFound
from domain.ports.persistence import UnitOfWork
from domain.ports.runtime import Clock


class ListGrants:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal, account_id: UUID) -> list[Grant]:
        async with self._uow as uow:
            await _managed(uow, principal, account_id)
            return await uow.grants.for_account(principal.tenant_id, account_id)


class PutGrant:
    """Adds or changes a user's grant; True when it is new. Granting the account's owner is pointless (they reach
    it fully) and refused, as is a user of another tenant (NotFound: the caller cannot see them)."""

    def __init__(self, uow: UnitOfWork, clock: Clock, auditor: Auditor) -> None:
        self._uow = uow
        self._clock = clock
        self._auditor = auditor

    async def __call__(
        self, principal: Principal, account_id: UUID, user_id: UUID, access: GrantAccess
    ) -> tuple[Grant, bool]:
        async with self._uow as uow:
            owner_id = await _managed(uow, principal, account_id)
            user = await uow.users.get(user_id)
            if user is None or user.tenant_id != principal.tenant_id:
                raise NotFound("user not found")
            if user_id == owner_id:
                raise InvalidInput("user_id", "is the account's owner, who has full access already")
            grant = Grant(principal.tenant_id, account_id, user_id, access, principal.user_id, self._clock.now())
            created = await uow.grants.put(grant)
            await self._auditor.record(
                uow,
                AuditAction.GRANT_CHANGED,
                principal.tenant_id,
                principal.user_id,
                f"{account_id}:{user_id}:{access}",
            )
            await uow.commit()
        return grant, created


class DeleteGrant:
    def __init__(self, uow: UnitOfWork, auditor: Auditor) -> None:
        self._uow = uow
        self._auditor = auditor

    async def __call__(self, principal: Principal, account_id: UUID, user_id: UUID) -> None:
        async with self._uow as uow:
            await _managed(uow, principal, account_id)
            if not await uow.grants.delete(principal.tenant_id, account_id, user_id):
                raise NotFound("grant not found")
            await self._auditor.record(
                uow, AuditAction.GRANT_DELETED, principal.tenant_id, principal.user_id, f"{account_id}:{user_id}"
            )
            await uow.commit()


async def _managed(uow: UnitOfWork, principal: Principal, account_id: UUID) -> UUID | None:
    """The account's owner, once the caller is found to manage it."""
    (await reach_of(uow, principal, account_id)).require(account_id, Reach.MANAGE)
    account = await uow.accounts.get(principal.tenant_id, account_id)
    if account is None:
        raise NotFound("mail account not found")
    return account.owner_id
