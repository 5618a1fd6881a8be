"""Answers an error raised by a middleware (authentication: 401, rate limit: 429) right where it is raised.

Litestar renders a route handler's exceptions inside the middleware stack, but a middleware's only at the top of
the application, outside every middleware. Without this one, the access log and the HTTP metrics saw such a
request end in an exception (a 500 in the log, a 200 in the metrics) and the answer went out without its
X-Request-ID."""

from typing import Any

from litestar import Request
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from entrypoints.http.problems import EXCEPTION_HANDLERS


def middleware_errors_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await app(scope, receive, tracking_send)
        except Exception as error:
            if started:  # too late for another answer: the client sees the connection end
                raise
            request: Request[Any, Any, Any] = Request(scope, receive)
            handler = next(EXCEPTION_HANDLERS[kind] for kind in type(error).__mro__ if kind in EXCEPTION_HANDLERS)
            response = handler(request, error)  # type: ignore[operator]
            await response.to_asgi_response(app=None, request=request)(scope, receive, send)

    return middleware
