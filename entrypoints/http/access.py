"""Which API key scope each route needs. A route declares it with `opt={"scope": Scope.X}`; without one, reading
(GET) needs `read` and anything else `write`. A signed-in user has every scope; their role and their reach into
each account are the use cases' to check (domain.access)."""

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from domain.access import Scope
from domain.auth import Principal

SCOPE = "scope"
_READING = frozenset({"GET", "HEAD", "OPTIONS"})


def required_scope(handler: BaseRouteHandler) -> Scope:
    declared = handler.opt.get(SCOPE)
    if declared is not None:
        return Scope(declared)
    methods: set[str] = getattr(handler, "http_methods", set())
    return Scope.READ if methods and set(methods) <= _READING else Scope.WRITE


def scope_guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Runs after authentication: an API key lacking the route's scope is refused (403) before the handler."""
    user = connection.scope.get("user")
    if isinstance(user, Principal):
        user.require_scope(required_scope(handler))
