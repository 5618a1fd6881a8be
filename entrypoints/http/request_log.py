"""The outermost middleware: gives each request its id (the client's `X-Request-ID` if plain, else a new one),
echoes it in the response, and writes one access line when the response is done. Bodies, query strings and
headers are never logged, so tokens and passwords cannot reach the log."""

import logging
import time
from typing import Any

from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from adapters.correlation import acceptable_request_id, current_request_id, new_request_id
from domain.auth import Principal

log = logging.getLogger("mailroom.access")
HEADER = "x-request-id"


def request_log_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        given = headers.get(HEADER.encode(), b"").decode("latin-1") or None
        request_id = acceptable_request_id(given) or new_request_id()
        token = current_request_id.set(request_id)
        started, status = time.perf_counter(), 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableScopeHeaders.from_message(message)[HEADER] = request_id
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        finally:
            log.info("request", extra=_access_fields(scope, status, time.perf_counter() - started))
            current_request_id.reset(token)

    return middleware


def _access_fields(scope: Scope, status: int, seconds: float) -> dict[str, Any]:
    user: Any = scope.get("user")
    principal = user if isinstance(user, Principal) else None
    return {
        "method": scope.get("method"),
        "route": scope.get("path_template") or "(unmatched)",
        "status": status,
        "duration_ms": round(seconds * 1000, 2),
        "tenant": str(principal.tenant_id) if principal else None,
        "user": str(principal.user_id) if principal else None,
    }
