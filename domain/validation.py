"""Small checks shared by the value objects. They raise InvalidInput naming the field."""

import re

from domain.errors import InvalidInput

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_HOSTNAME_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_LOCAL_PART = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$")


def require_text(field: str, value: str, *, max_length: int, allow_empty: bool = False) -> str:
    if not allow_empty and not value.strip():
        raise InvalidInput(field, "must not be empty")
    if len(value) > max_length:
        raise InvalidInput(field, f"must be at most {max_length} characters")
    if _CONTROL.search(value):
        raise InvalidInput(field, "must not contain control characters")
    return value


def require_hostname(field: str, value: str) -> str:
    """A DNS name or an IP literal; no scheme, port, path or spaces."""
    require_text(field, value, max_length=253)
    candidate = value[1:-1] if value.startswith("[") and value.endswith("]") else value
    if ":" in candidate and all(part == "" or re.fullmatch(r"[0-9A-Fa-f]{1,4}", part) for part in candidate.split(":")):
        return value
    labels = candidate.rstrip(".").split(".")
    if not all(_HOSTNAME_LABEL.match(label) for label in labels):
        raise InvalidInput(field, "must be a host name or IP address")
    return value


def require_port(field: str, value: int) -> int:
    if not 1 <= value <= 65535:
        raise InvalidInput(field, "must be between 1 and 65535")
    return value


def require_email(field: str, value: str) -> str:
    """A pragmatic RFC 5321 mailbox check: local@domain, no spaces, no control characters."""
    require_text(field, value, max_length=254)
    local, at, domain = value.rpartition("@")
    if not at or not local or len(local) > 64 or not _LOCAL_PART.match(local):
        raise InvalidInput(field, "must be an email address")
    if local.startswith(".") or local.endswith(".") or ".." in local:
        raise InvalidInput(field, "must be an email address")
    require_hostname(field, domain)
    if "." not in domain.strip("[]"):
        raise InvalidInput(field, "must be an email address")
    return value
