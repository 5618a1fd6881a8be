from dataclasses import replace

from application.access.reach import reach_of
from domain.access import Reach
from domain.auth import Principal
from domain.errors import NotFound
from domain.messages import MessageSummary
from domain.ports.persistence import UnitOfWork
from domain.search import KeysetPage, MessageQuery, PageAfter


class SearchMessages:
    """Lists or searches the caller's messages. An account or folder named in the query must be one the caller
    reaches (404 otherwise, as if it did not exist); the query is always held to the caller's tenant, and a
    member's to the accounts they reach. A page with messages proves the account and folder exist, so they are
    looked up only for an empty page (a query less for a list)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal, query: MessageQuery, page: PageAfter) -> KeysetPage[MessageSummary]:
        query = replace(query, tenant_id=principal.tenant_id, within_accounts=None)
        async with self._uow as uow:
            reach = await reach_of(uow, principal, query.account_id)
            if query.account_id is not None:
                reach.require(query.account_id, Reach.READ)
            elif reach.account_ids is not None:
                if not reach.account_ids:
                    return KeysetPage([], None)
                query = replace(query, within_accounts=reach.account_ids)
            found = await uow.messages.search(query, page)
            if found.items:  # messages of the tenant in that account and folder: both exist and are the tenant's
                return found
            if query.account_id and await uow.accounts.get(query.tenant_id, query.account_id) is None:
                raise NotFound("mail account not found")
            if query.mailbox_id:
                mailbox = await uow.mailboxes.get(query.tenant_id, query.mailbox_id)
                # `reach` covers the folder's account: narrowed to `account_id` only when the folder must be in it
                if (
                    mailbox is None
                    or (query.account_id and mailbox.account_id != query.account_id)
                    or reach.of(mailbox.account_id) is None
                ):
                    raise NotFound("mailbox not found")
            return found
