"""Rate limits on the authenticated API, per user and per API key; runs after the credential is checked. Over the
limit the request stops with 429 (TooManyRequests, answered by the problem handlers); under it, the response carries
the `RateLimit-*` headers."""

from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from application.limits import LimitRequests
from domain.auth import Principal
from entrypoints.http.problems import rate_limit_headers


def rate_limit_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        user = scope.get("user")
        if scope["type"] != ScopeType.HTTP or not isinstance(user, Principal):
            await app(scope, receive, send)
            return
        limits = await scope["app"].state.dishka_container.get(LimitRequests)
        headers = rate_limit_headers(await limits.for_caller(user))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                mutable = MutableScopeHeaders.from_message(message)
                for name, value in headers.items():
                    mutable[name] = value
            await send(message)

        await app(scope, receive, send_with_headers)

    return middleware
