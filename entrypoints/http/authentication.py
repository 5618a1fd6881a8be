from typing import Any

from dishka import AsyncContainer, Provider, Scope, provide
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import ASGIApp, Receive, Send
from litestar.types import Scope as AsgiScope

from adapters.correlation import current_request_id
from application.auth.authenticate import Authenticate
from application.auth.sessions import RememberRevokedSessions
from domain.audit import RequestOrigin
from domain.auth import Principal
from domain.client_address import TrustedProxies
from domain.errors import AuthenticationFailed
from domain.ports.persistence import ReadHandOn, TenantScope
from entrypoints.http.client_address import client_address
from entrypoints.settings import Settings


class BearerTokenMiddleware(AbstractAuthenticationMiddleware):
    """Authenticates every request of the router it guards; the X-Tenant-ID rule lives in Authenticate."""

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        scheme, _, token = connection.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationFailed("a bearer token is required")
        container = connection.state.dishka_container
        authenticate, hand_on = await container.get(Authenticate), await container.get(ReadHandOn)
        # Checking the token reads its user, within the token's tenant, in a transaction the handler's unit of
        # work then goes on with.
        with hand_on():
            principal = await authenticate(token.strip(), connection.headers.get("x-tenant-id"))
        return AuthenticationResult(user=principal, auth=None)


async def remember_revoked_sessions(container: AsyncContainer) -> None:
    """At start-up: the sessions ended while an access token of theirs may still be unexpired, from the database
    into the revocation list (which, in this process's memory, a restart emptied)."""
    async with container() as request:
        remember = await request.get(RememberRevokedSessions)
        with (await container.get(TenantScope)).system():
            await remember()


def tenant_scope_middleware(app: ASGIApp) -> ASGIApp:
    """After authentication: the rest of the request may touch only the caller's tenant's rows (Postgres RLS)."""

    async def middleware(scope: AsgiScope, receive: Receive, send: Send) -> None:
        user = scope.get("user")
        if not isinstance(user, Principal):
            await app(scope, receive, send)
            return
        tenant_scope = await scope["app"].state.dishka_container.get(TenantScope)
        with tenant_scope(user.tenant_id):
            await app(scope, receive, send)

    return middleware


class PrincipalProvider(Provider):
    """Hands the authenticated caller to handlers as `FromDishka[Principal]`, and where the request came from
    (through the trusted proxies)."""

    @provide(scope=Scope.APP)
    def trusted_proxies(self, settings: Settings) -> TrustedProxies:
        return settings.proxies()

    @provide(scope=Scope.REQUEST, override=True)
    def origin(self, request: Request, proxies: TrustedProxies, settings: Settings) -> RequestOrigin:  # type: ignore[type-arg]
        return RequestOrigin(current_request_id.get(), client_address(request, proxies, settings.forwarded_header))

    @provide(scope=Scope.REQUEST)
    def principal(self, request: Request) -> Principal:  # type: ignore[type-arg]  # dishka keys on the bare class
        user = request.scope.get("user")
        if not isinstance(user, Principal):
            raise AuthenticationFailed("a bearer token is required")
        return user
