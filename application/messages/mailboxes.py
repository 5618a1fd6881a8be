from uuid import UUID

from application.accounts.read import reachable_account
from domain.access import Reach
from domain.auth import Principal
from domain.mailboxes import Mailbox
from domain.ports.persistence import UnitOfWork


class ListMailboxes:
    """An account's folders with their counts as stored now (a flag changed through the API counts at once)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal, account_id: UUID) -> list[Mailbox]:
        async with self._uow as uow:
            await reachable_account(uow, principal, account_id, Reach.READ)
            mailboxes = await uow.mailboxes.for_account(principal.tenant_id, account_id)
            for mailbox in mailboxes:
                mailbox.message_count, mailbox.unread_count = await uow.message_store.counts(mailbox.id)
        return mailboxes
