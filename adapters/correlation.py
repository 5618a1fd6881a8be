"""The id of the request (or job) being handled, for logs: set by the HTTP edge from `X-Request-ID` or made up,
carried as a Taskiq label into the jobs a request queues, and set again by the worker running them."""

import re
import secrets
from contextvars import ContextVar

current_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

_ACCEPTABLE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def new_request_id() -> str:
    return secrets.token_hex(16)


def acceptable_request_id(value: str | None) -> str | None:
    """A client's id is kept only if it is short and plain, so it cannot forge log lines."""
    return value if value is not None and _ACCEPTABLE.match(value) else None
