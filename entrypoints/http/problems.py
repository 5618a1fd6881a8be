"""Every 4xx/5xx answer is application/problem+json (RFC 9457) with a stable `type`."""

import logging
import re
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from domain.access import MissingScope
from domain.changes import CursorExpired
from domain.errors import (
    AuthenticationFailed,
    Conflict,
    DependencyUnavailable,
    DomainError,
    InvalidInput,
    MailServerRejected,
    NotFound,
    PermissionDenied,
    TooLarge,
)
from domain.limits import RateDecision, TooManyRequests

log = logging.getLogger("mailroom.http")

MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:mailroom:problem:"

_TITLES = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    409: ("conflict", "Conflict"),
    410: ("cursor-expired", "The cursor is too old"),
    413: ("payload-too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("validation-error", "Invalid request"),
    429: ("too-many-requests", "Too many requests"),
    500: ("internal-error", "Internal server error"),
    503: ("service-unavailable", "Service unavailable"),
}

_DOMAIN_STATUS: list[tuple[type[DomainError], int]] = [
    (CursorExpired, 410),
    (InvalidInput, 422),
    (MailServerRejected, 422),
    (NotFound, 404),
    (Conflict, 409),
    (AuthenticationFailed, 401),
    (PermissionDenied, 403),
    (DependencyUnavailable, 503),
    (TooLarge, 413),
    (TooManyRequests, 429),
]


def problem(
    status: int,
    detail: str,
    *,
    slug: str | None = None,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response[dict[str, Any]]:
    default_slug, default_title = _TITLES.get(status, ("http-error", "Error"))
    body = {
        "type": TYPE_PREFIX + (slug or default_slug),
        "title": title or default_title,
        "status": status,
        "detail": detail,
        **extra,
    }
    return Response(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def domain_error_handler(_: Request[Any, Any, Any], error: DomainError) -> Response[dict[str, Any]]:
    status = next((code for kind, code in _DOMAIN_STATUS if isinstance(error, kind)), 400)
    if isinstance(error, InvalidInput):
        return problem(status, error.message, errors=[{"field": error.field, "message": error.reason}])
    if isinstance(error, MailServerRejected):
        return problem(
            status,
            error.message,
            slug="mail-server-rejected",
            title="The mail server refused the connection or login",
            protocol=error.protocol,
        )
    if isinstance(error, MissingScope):
        return problem(
            status, error.message, slug="missing-scope", title="The API key lacks a scope", scope=error.scope
        )
    if isinstance(error, AuthenticationFailed):
        return problem(status, error.message, headers={"WWW-Authenticate": 'Bearer realm="mailroom"'})
    if isinstance(error, TooManyRequests):
        headers = {"Retry-After": str(error.retry_after)} | rate_limit_headers(error.decision)
        return problem(status, error.message, headers=headers)
    if isinstance(error, DependencyUnavailable):
        log.error("dependency unavailable: %s", error.message)
        return problem(status, "a backing service is unavailable")
    return problem(status, error.message)


def rate_limit_headers(decision: RateDecision) -> dict[str, str]:
    """The IETF draft's fields (draft-ietf-httpapi-ratelimit-headers) for the tightest window."""
    window = decision.tightest
    return {
        "RateLimit-Limit": str(window.limit.requests),
        "RateLimit-Remaining": str(window.remaining),
        "RateLimit-Reset": str(window.resets_in),
        "RateLimit-Policy": decision.policy,
    }


def validation_handler(_: Request[Any, Any, Any], error: ValidationException) -> Response[dict[str, Any]]:
    errors = [_field_error(item) for item in error.extra] if isinstance(error.extra, list) else []
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "the request could not be read"
    return problem(422, detail, errors=errors)


def http_error_handler(_: Request[Any, Any, Any], error: HTTPException) -> Response[dict[str, Any]]:
    status = error.status_code
    if status == 401:
        return problem(status, error.detail, headers={"WWW-Authenticate": 'Bearer realm="mailroom"'})
    return problem(status, error.detail, headers=error.headers)


def unexpected_error_handler(request: Request[Any, Any, Any], error: Exception) -> Response[dict[str, Any]]:
    log.exception("unhandled error on %s %s", request.method, request.scope.get("path"))
    return problem(HTTP_500_INTERNAL_SERVER_ERROR, "an unexpected error occurred")


def recursion_handler(request: Request[Any, Any, Any], error: RecursionError) -> Response[dict[str, Any]]:
    """msgspec refuses JSON nested deeper than the interpreter's recursion limit with a RecursionError while it
    decodes a body; that is the client's malformed input, not a fault of ours."""
    if "deserializ" in str(error):
        return problem(400, "the JSON body is nested too deeply")
    return unexpected_error_handler(request, error)


EXCEPTION_HANDLERS = {
    DomainError: domain_error_handler,
    RecursionError: recursion_handler,
    ValidationException: validation_handler,
    HTTPException: http_error_handler,
    Exception: unexpected_error_handler,
}

_UNKNOWN_FIELD = re.compile(r"unknown field `([^`]+)`")
_AT_PATH = re.compile(r"^(?P<message>.*?)(?: - at `\$\.?(?P<path>[^`]*)`)?$", re.DOTALL)


def _field_error(item: Any) -> dict[str, str]:
    """Litestar reports msgspec errors as `Expected int, got str - at $.imap.port`; split off the field."""
    raw = item.get("message", "") if isinstance(item, dict) else str(item)
    key = item.get("key") if isinstance(item, dict) else None
    match = _AT_PATH.match(raw)
    message = match["message"] if match else raw
    path = (match["path"] if match else None) or ""
    unknown = _UNKNOWN_FIELD.search(message)
    if unknown:
        path = f"{path}.{unknown[1]}" if path else unknown[1]
    field = path or (key if key and key != "data" else "body")
    return {"field": field.replace("[", ".").replace("]", ""), "message": message}
