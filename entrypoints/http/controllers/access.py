"""Users (admins only) and API keys."""

from typing import Annotated
from uuid import UUID

import msgspec
from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, Response, delete, get, patch, post
from litestar.params import FromPath, JSONBody, QueryParameter
from msgspec import UnsetType

from application.access.keys import CreateApiKey, DeleteApiKey, ListApiKeys, NewApiKey
from application.users.admin import CreateUser, DeleteUser, GetUser, InvitedUser, ListUsers, UpdateUser, UserChanges
from domain.access import Scope
from domain.auth import Principal
from domain.pagination import MAX_OFFSET, MAX_PAGE_SIZE, PageRequest
from entrypoints.http.access import SCOPE
from entrypoints.http.openapi import CREATED_LOCATION, created, problems
from entrypoints.http.schemas.access import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyList,
    ApiKeyOut,
    UserCreate,
    UserList,
    UserOut,
    UserPatch,
)

ADMIN_ONLY = {SCOPE: Scope.ADMIN}


class UserController(Controller):
    path = "/api/users"
    tags = ["users"]
    opt = ADMIN_ONLY

    @get(
        operation_id="listUsers",
        summary="List the tenant's users",
        description="Admins only, oldest first, with `total`.",
    )
    @inject
    async def list_users(
        self,
        principal: FromDishka[Principal],
        list_users: FromDishka[ListUsers],
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_SIZE)] = 50,
        offset: Annotated[int, QueryParameter(ge=0, le=MAX_OFFSET)] = 0,
    ) -> UserList:
        page = await list_users(principal, PageRequest(limit=limit, offset=offset))
        return UserList(items=[UserOut.of(u) for u in page.items], total=page.total)

    @post(
        operation_id="createUser",
        summary="Add a user to the tenant",
        description="Admins only. The user signs in with this email and password (`member` by default). 409 when "
        "the email has a login in the tenant already.",
        responses=problems(409),
        response_headers=[CREATED_LOCATION],
    )
    @inject
    async def create_user(
        self, data: JSONBody[UserCreate], principal: FromDishka[Principal], create: FromDishka[CreateUser]
    ) -> Response[UserOut]:
        user = await create(principal, InvitedUser(data.email, data.password, data.role))
        return created(UserOut.of(user), f"/api/users/{user.id}")

    @get(
        "/{user_id:uuid}",
        operation_id="getUser",
        summary="Read a user",
        description="Admins only.",
        responses=problems(404),
    )
    @inject
    async def get_user(
        self, user_id: FromPath[UUID], principal: FromDishka[Principal], get_user: FromDishka[GetUser]
    ) -> UserOut:
        return UserOut.of(await get_user(principal, user_id))

    @patch(
        "/{user_id:uuid}",
        operation_id="updateUser",
        summary="Change a user's role, or disable or enable them",
        description="Admins only. A role change or disabling ends the user's sessions at once; a disabled user "
        "cannot sign in and their API keys stop working. 409 for the tenant's last enabled admin.",
        responses=problems(404, 409),
    )
    @inject
    async def update_user(
        self,
        user_id: FromPath[UUID],
        data: JSONBody[UserPatch],
        principal: FromDishka[Principal],
        update: FromDishka[UpdateUser],
    ) -> UserOut:
        changes = UserChanges(
            role=None if isinstance(data.role, UnsetType) else data.role,
            disabled=None if isinstance(data.disabled, UnsetType) else data.disabled,
        )
        return UserOut.of(await update(principal, user_id, changes))

    @delete(
        "/{user_id:uuid}",
        operation_id="deleteUser",
        summary="Remove a user",
        description="Admins only. The user's mail accounts go to `new_owner_id`, or to the admin deleting them; "
        "their grants, sessions, API keys and webhooks are deleted. 409 for the tenant's last enabled admin.",
        responses=problems(404, 409),
    )
    @inject
    async def delete_user(
        self,
        user_id: FromPath[UUID],
        principal: FromDishka[Principal],
        delete_user: FromDishka[DeleteUser],
        new_owner_id: Annotated[
            UUID | None, QueryParameter(description="who receives the user's accounts (default: the caller)")
        ] = None,
    ) -> None:
        await delete_user(principal, user_id, new_owner_id)


class ApiKeyController(Controller):
    path = "/api/keys"
    tags = ["keys"]

    @post(
        operation_id="createApiKey",
        summary="Make an API key for an automation",
        description="The key (`mr_...`) is in this answer only; send it as `Authorization: Bearer <key>`. It acts "
        "as you, limited to its `scopes`: `read` (GET routes), `write` (changes), `send` (sending drafts), `admin` "
        "(users, the audit trail, deleting keys with a key; admins only). Keys are made by a signed-in user: with a "
        "key this is a 403. At most 50 keys per user (409).",
        responses=problems(409),
        response_headers=[CREATED_LOCATION],
        opt=ADMIN_ONLY,
    )
    @inject
    async def create_key(
        self, data: JSONBody[ApiKeyCreate], principal: FromDishka[Principal], create: FromDishka[CreateApiKey]
    ) -> Response[ApiKeyCreated]:
        key, secret = await create(principal, NewApiKey(data.name, frozenset(data.scopes), data.expires_at))
        body = ApiKeyCreated(**msgspec.structs.asdict(ApiKeyOut.of(key)), key=secret)
        return created(body, f"/api/keys/{key.id}")

    @get(
        operation_id="listApiKeys",
        summary="List API keys",
        description="Your keys; an admin's list is the tenant's. The keys themselves are never shown again.",
    )
    @inject
    async def list_keys(self, principal: FromDishka[Principal], list_keys: FromDishka[ListApiKeys]) -> ApiKeyList:
        return ApiKeyList(items=[ApiKeyOut.of(k) for k in await list_keys(principal)])

    @delete(
        "/{key_id:uuid}",
        operation_id="deleteApiKey",
        summary="Delete an API key",
        description="It stops working at once. Yours, or any of the tenant's for an admin.",
        responses=problems(404),
        opt=ADMIN_ONLY,
    )
    @inject
    async def delete_key(
        self, key_id: FromPath[UUID], principal: FromDishka[Principal], delete_key: FromDishka[DeleteApiKey]
    ) -> None:
        await delete_key(principal, key_id)
