from typing import Annotated
from uuid import UUID

from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, delete, get, patch, post, put
from litestar.params import FromPath, JSONBody, QueryParameter

from application.accounts.create import CreateMailAccount
from application.accounts.delete import DeleteMailAccount
from application.accounts.read import GetMailAccount, ListMailAccounts
from application.accounts.update import UpdateMailAccount
from domain.auth import Principal
from domain.pagination import MAX_OFFSET, MAX_PAGE_SIZE, PageRequest
from entrypoints.http.schemas.accounts import (
    MailAccountCreate,
    MailAccountList,
    MailAccountOut,
    MailAccountPatch,
    MailAccountReplace,
)
from entrypoints.http.schemas.mapping import account_changes, new_account

Verify = Annotated[bool, QueryParameter(description="log in to the IMAP and SMTP servers before saving")]


class MailAccountController(Controller):
    path = "/api/accounts"
    tags = ["accounts"]

    @get(summary="List the tenant's mail accounts")
    @inject
    async def list_accounts(
        self,
        principal: FromDishka[Principal],
        list_accounts: FromDishka[ListMailAccounts],
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_SIZE)] = 50,
        offset: Annotated[int, QueryParameter(ge=0, le=MAX_OFFSET)] = 0,
    ) -> MailAccountList:
        page = await list_accounts(principal, PageRequest(limit=limit, offset=offset))
        return MailAccountList(items=[MailAccountOut.of(a) for a in page.items], total=page.total)

    @post(summary="Add a mail account")
    @inject
    async def create_account(
        self,
        data: JSONBody[MailAccountCreate],
        principal: FromDishka[Principal],
        create: FromDishka[CreateMailAccount],
        verify: Verify = False,
    ) -> MailAccountOut:
        return MailAccountOut.of(await create(principal, new_account(data), verify=verify))

    @get("/{account_id:uuid}", summary="Read a mail account")
    @inject
    async def get_account(
        self, account_id: FromPath[UUID], principal: FromDishka[Principal], get_account: FromDishka[GetMailAccount]
    ) -> MailAccountOut:
        return MailAccountOut.of(await get_account(principal, account_id))

    @put("/{account_id:uuid}", summary="Replace a mail account (passwords left out are kept)")
    @inject
    async def replace_account(
        self,
        account_id: FromPath[UUID],
        data: JSONBody[MailAccountReplace],
        principal: FromDishka[Principal],
        update: FromDishka[UpdateMailAccount],
        verify: Verify = False,
    ) -> MailAccountOut:
        return MailAccountOut.of(await update(principal, account_id, account_changes(data), verify=verify))

    @patch("/{account_id:uuid}", summary="Change some fields of a mail account")
    @inject
    async def patch_account(
        self,
        account_id: FromPath[UUID],
        data: JSONBody[MailAccountPatch],
        principal: FromDishka[Principal],
        update: FromDishka[UpdateMailAccount],
        verify: Verify = False,
    ) -> MailAccountOut:
        return MailAccountOut.of(await update(principal, account_id, account_changes(data), verify=verify))

    @delete("/{account_id:uuid}", summary="Remove a mail account")
    @inject
    async def delete_account(
        self,
        account_id: FromPath[UUID],
        principal: FromDishka[Principal],
        delete_account: FromDishka[DeleteMailAccount],
    ) -> None:
        await delete_account(principal, account_id)
