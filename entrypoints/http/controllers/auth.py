from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, get, post
from litestar.params import JSONBody

from application.auth.login import Login
from application.auth.sessions import Logout, Refresh
from application.users.admin import ChangePassword, GetUser
from domain.audit import RequestOrigin
from domain.auth import Principal, SignedIn
from domain.ports.persistence import TenantScope
from entrypoints.http.openapi import problems
from entrypoints.http.schemas.access import LogoutRequest, MeOut, PasswordChange, RefreshRequest
from entrypoints.http.schemas.auth import LoginRequest, TokenResponse


def _tokens(signed_in: SignedIn) -> TokenResponse:
    return TokenResponse(
        access_token=signed_in.access.access_token,
        expires_in=signed_in.access.expires_in,
        refresh_token=signed_in.refresh_token,
    )


class LoginController(Controller):
    """The routes that take no bearer token: the credential is in the body."""

    path = "/api/auth"
    tags = ["auth"]

    @post(
        "/login",
        status_code=200,
        operation_id="login",
        summary="Exchange email and password for an access token and a refresh token",
        description="The access token goes in `Authorization: Bearer ...` on every other call and lives "
        "`expires_in` seconds (15 minutes by default); renew it with the refresh token at `POST /api/auth/refresh`. "
        "A wrong tenant, email or password, or a disabled user, is the same 401; repeated failures from one address "
        "or for one login are answered 429 for a while.",
        responses=problems(401, 429),
    )
    @inject
    async def login(
        self,
        data: JSONBody[LoginRequest],
        login: FromDishka[Login],
        origin: FromDishka[RequestOrigin],
        scope: FromDishka[TenantScope],
    ) -> TokenResponse:
        with scope.system():  # the user is found by tenant slug and email, before any tenant is known
            signed_in = await login(data.tenant, data.email, data.password, origin.client_address)
        return _tokens(signed_in)

    @post(
        "/refresh",
        status_code=200,
        operation_id="refreshToken",
        summary="Renew the access token with the refresh token",
        description="Answers as login does, with a new refresh token: each one is good for one use. Presenting a "
        "refresh token that was used already ends the whole session (it was copied), so both its holders must log "
        "in again. 401 for an unknown, expired or used refresh token, or a session that was ended.",
        responses=problems(401),
    )
    @inject
    async def refresh(self, data: JSONBody[RefreshRequest], refresh: FromDishka[Refresh]) -> TokenResponse:
        return _tokens(await refresh(data.refresh_token))


class SessionController(Controller):
    path = "/api/auth"
    tags = ["auth"]

    @post(
        "/logout",
        status_code=204,
        operation_id="logout",
        summary="End this session (or every session of the user)",
        description="The access token and the refresh token of this session stop working at once; with "
        '`{"everywhere": true}`, those of every session of the user. An API key has no session: delete the key.',
    )
    @inject
    async def logout(
        self, principal: FromDishka[Principal], logout: FromDishka[Logout], data: JSONBody[LogoutRequest | None] = None
    ) -> None:
        await logout(principal, everywhere=data.everywhere if data else False)

    @post(
        "/password",
        status_code=200,
        operation_id="changePassword",
        summary="Change your password",
        description="Needs the current password. The new one must have at least 10 characters and not be one of "
        "the most common passwords. Every session of the user ends, this one too; the answer is a new session for "
        "the caller, as login answers.",
        responses=problems(409),
    )
    @inject
    async def change_password(
        self, data: JSONBody[PasswordChange], principal: FromDishka[Principal], change: FromDishka[ChangePassword]
    ) -> TokenResponse:
        return _tokens(await change(principal, data.current_password, data.new_password))


class MeController(Controller):
    path = "/api/me"
    tags = ["auth"]

    @get(
        operation_id="getMe",
        summary="Who the credential belongs to",
        description="The user, tenant and role the access token or API key acts as, and the scopes it has.",
    )
    @inject
    async def me(self, principal: FromDishka[Principal], get_user: FromDishka[GetUser]) -> MeOut:
        user = await get_user(principal)
        return MeOut(
            user_id=str(principal.user_id),
            tenant_id=str(principal.tenant_id),
            role=principal.role,
            email=user.email,
            credential="api_key" if principal.key_id else "session",
            scopes=sorted(principal.scopes),
        )
