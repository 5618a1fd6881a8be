from dataclasses import dataclass
from uuid import UUID

from application.accounts.read import reachable_account, with_grant_status
from domain.access import Reach
from domain.auth import Principal
from domain.mailboxes import Mailbox
from domain.ports.persistence import UnitOfWork
from domain.sync import AccountSync


@dataclass(frozen=True, slots=True)
class SyncStatus:
    sync: AccountSync
    folders: list[Mailbox]
    reauth_required: bool = False
    """The account's OAuth2 grant is lost (domain.oauth): nothing is tried until its user signs in again."""


class GetSyncStatus:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal, account_id: UUID) -> SyncStatus:
        async with self._uow as uow:
            [account] = await with_grant_status(uow, [await reachable_account(uow, principal, account_id, Reach.READ)])
            sync = await uow.syncs.get(principal.tenant_id, account_id)
            folders = await uow.mailboxes.for_account(principal.tenant_id, account_id)
        lost = account.oauth is not None and account.oauth.reauth_required
        return SyncStatus(sync or AccountSync(principal.tenant_id, account_id), folders, lost)
