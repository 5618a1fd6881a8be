from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, get, post
from litestar.params import JSONBody

from application.auth.login import Login
from domain.audit import RequestOrigin
from domain.auth import Principal
from domain.ports.persistence import TenantScope
from entrypoints.http.openapi import problems
from entrypoints.http.schemas.auth import LoginRequest, MeResponse, TokenResponse


class LoginController(Controller):
    path = "/api/auth"
    tags = ["auth"]

    @post(
        "/login",
        status_code=200,
        operation_id="login",
        summary="Exchange email and password for a bearer token",
        description="The token goes in `Authorization: Bearer ...` on every other call. A wrong tenant, email or "
        "password is the same 401; repeated failures from one address or for one login are answered 429 for a "
        "while.",
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
            token = await login(data.tenant, data.email, data.password, origin.client_address)
        return TokenResponse(access_token=token.access_token, expires_in=token.expires_in)


class MeController(Controller):
    path = "/api/me"
    tags = ["auth"]

    @get(
        operation_id="getMe",
        summary="Who the bearer token belongs to",
        description="The user, tenant and role the token was issued for.",
    )
    @inject
    async def me(self, principal: FromDishka[Principal]) -> MeResponse:
        return MeResponse(user_id=str(principal.user_id), tenant_id=str(principal.tenant_id), role=principal.role)
