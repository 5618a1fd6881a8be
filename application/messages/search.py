from dataclasses import replace

from domain.auth import Principal
from domain.errors import NotFound
from domain.messages import MessageSummary
from domain.ports.persistence import UnitOfWork
from domain.search import KeysetPage, MessageQuery, PageAfter


class SearchMessages:
    """Lists or searches the caller's messages. An account or folder named in the query must be the tenant's
    (404 otherwise, as if it did not exist); the query is always held to the caller's tenant. A page with
    messages proves that already, so they are looked up only for an empty page (a query less for a list)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal, query: MessageQuery, page: PageAfter) -> KeysetPage[MessageSummary]:
        query = replace(query, tenant_id=principal.tenant_id)
        async with self._uow as uow:
            found = await uow.messages.search(query, page)
            if found.items:  # messages of the tenant in that account and folder: both exist and are the tenant's
                return found
            if query.account_id and await uow.accounts.get(query.tenant_id, query.account_id) is None:
                raise NotFound("mail account not found")
            if query.mailbox_id:
                mailbox = await uow.mailboxes.get(query.tenant_id, query.mailbox_id)
                if mailbox is None or (query.account_id and mailbox.account_id != query.account_id):
                    raise NotFound("mailbox not found")
            return found
