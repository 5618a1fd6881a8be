from typing import Annotated
from uuid import UUID

from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, Response, delete, get, patch, post, put
from litestar.params import FromPath, JSONBody, QueryParameter
from msgspec import UnsetType

from application.access.grants import DeleteGrant, ListGrants, PutGrant
from application.accounts.create import CreateMailAccount
from application.accounts.delete import DeleteMailAccount
from application.accounts.read import GetMailAccount, ListMailAccounts
from application.accounts.update import UpdateMailAccount
from domain.auth import Principal
from domain.pagination import MAX_OFFSET, MAX_PAGE_SIZE, PageRequest
from entrypoints.http.openapi import CREATED_LOCATION, created, problems
from entrypoints.http.schemas.access import GrantIn, GrantList, GrantOut
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

    @get(
        operation_id="listAccounts",
        summary="List the mail accounts you reach",
        description="A page of IMAP/SMTP accounts, oldest first, with `total`: a member's own accounts and those "
        "shared with them, every account of the tenant for an admin. Passwords are never returned.",
    )
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

    @post(
        operation_id="createAccount",
        summary="Add a mail account",
        description="Stores the account with its passwords encrypted; the caller owns it. With `verify=true` it first "
        "logs in to both servers and answers 422 with the server's reason if either refuses. The first sync is "
        "queued with `POST /api/sync/imap/{account_id}` or by the scheduler.",
        responses=problems(409),
        response_headers=[CREATED_LOCATION],
    )
    @inject
    async def create_account(
        self,
        data: JSONBody[MailAccountCreate],
        principal: FromDishka[Principal],
        create: FromDishka[CreateMailAccount],
        verify: Verify = False,
    ) -> Response[MailAccountOut]:
        account = await create(principal, new_account(data), verify=verify)
        return created(MailAccountOut.of(account), f"/api/accounts/{account.id}")

    @get(
        "/{account_id:uuid}",
        operation_id="getAccount",
        summary="Read a mail account",
        description="The account's settings, without its passwords.",
        responses=problems(404),
    )
    @inject
    async def get_account(
        self, account_id: FromPath[UUID], principal: FromDishka[Principal], get_account: FromDishka[GetMailAccount]
    ) -> MailAccountOut:
        return MailAccountOut.of(await get_account(principal, account_id))

    @put(
        "/{account_id:uuid}",
        operation_id="replaceAccount",
        summary="Replace a mail account (passwords left out are kept)",
        description="A password may be left out only while the server's host, port, security and username stay "
        "as they are: the stored password is never sent to another server. 409 when the account's servers or "
        "passwords changed since it was read.",
        responses=problems(404, 409),
    )
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

    @patch(
        "/{account_id:uuid}",
        operation_id="updateAccount",
        summary="Change some fields of a mail account",
        description="Fields left out keep their values. Changing a server's host, port, security or username "
        "needs its password again. The account's owner or an admin may change it; `owner_id` gives it to another "
        "user of the tenant (admins only).",
        responses=problems(404, 409),
    )
    @inject
    async def patch_account(
        self,
        account_id: FromPath[UUID],
        data: JSONBody[MailAccountPatch],
        principal: FromDishka[Principal],
        update: FromDishka[UpdateMailAccount],
        verify: Verify = False,
    ) -> MailAccountOut:
        owner = None if isinstance(data.owner_id, UnsetType) else data.owner_id
        changed = await update(principal, account_id, account_changes(data), verify=verify, new_owner=owner)
        return MailAccountOut.of(changed)

    @delete(
        "/{account_id:uuid}",
        operation_id="deleteAccount",
        summary="Remove a mail account",
        description="Removes the account with its stored mail and drafts; nothing changes on the mail servers. The "
        "account's owner or an admin only.",
        responses=problems(404),
    )
    @inject
    async def delete_account(
        self,
        account_id: FromPath[UUID],
        principal: FromDishka[Principal],
        delete_account: FromDishka[DeleteMailAccount],
    ) -> None:
        await delete_account(principal, account_id)

    @get(
        "/{account_id:uuid}/grants",
        operation_id="listGrants",
        summary="Who the account is shared with",
        description="The account's owner or an admin only.",
        responses=problems(404),
    )
    @inject
    async def list_grants(
        self, account_id: FromPath[UUID], principal: FromDishka[Principal], list_grants: FromDishka[ListGrants]
    ) -> GrantList:
        return GrantList(items=[GrantOut.of(g) for g in await list_grants(principal, account_id)])

    @put(
        "/{account_id:uuid}/grants/{user_id:uuid}",
        operation_id="putGrant",
        summary="Share the account with a user of the tenant",
        description="`read`: read and search its mail; `full`: also change flags, move, delete, write drafts and "
        "send. Changes the access of an existing grant. The account's owner or an admin only.",
        responses=problems(404),
    )
    @inject
    async def put_grant(
        self,
        account_id: FromPath[UUID],
        user_id: FromPath[UUID],
        data: JSONBody[GrantIn],
        principal: FromDishka[Principal],
        put_grant: FromDishka[PutGrant],
    ) -> GrantOut:
        grant, _ = await put_grant(principal, account_id, user_id, data.access)
        return GrantOut.of(grant)

    @delete(
        "/{account_id:uuid}/grants/{user_id:uuid}",
        operation_id="deleteGrant",
        summary="Stop sharing the account with a user",
        description="The account's owner or an admin only.",
        responses=problems(404),
    )
    @inject
    async def delete_grant(
        self,
        account_id: FromPath[UUID],
        user_id: FromPath[UUID],
        principal: FromDishka[Principal],
        delete_grant: FromDishka[DeleteGrant],
    ) -> None:
        await delete_grant(principal, account_id, user_id)
