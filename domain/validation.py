"""Small checks shared by the value objects. They raise InvalidInput naming the field."""

import re
from datetime import UTC, datetime

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


def require_mail_password(field: str, value: str) -> str:
    """A password that an IMAP quoted string or literal and an SMTP AUTH exchange can carry: no NUL, CR or LF.

    RFC 3501 section 4.3 keeps CR and LF out of quoted strings and RFC 4616 uses NUL as PLAIN's separator;
    a password with them would split into extra protocol commands (or logins) on the wire.
    """
    if not value or any(c in value for c in "\x00\r\n"):
        raise InvalidInput(field, "must not be empty or contain NUL, CR or LF")
    return value


def in_utc(field: str, moment: datetime) -> datetime:
    """An aware time in UTC, as the stores keep it. Year 1 at +14:00 or year 9999 at -14:00 cannot be: refused
    here rather than failing the database driver's conversion."""
    if moment.tzinfo is None:
        raise InvalidInput(field, "must name its time zone, e.g. 2026-12-24T09:00:00Z")
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise InvalidInput(field, "is out of range") from None


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


_LINE_BREAKS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")
_MEDIA_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$")


def require_header_text(field: str, value: str, *, max_length: int, allow_empty: bool = False) -> str:
    """Text bound for a mail header: besides control characters, the Unicode line breaks Python's
    `str.splitlines` splits on (NEL, LINE and PARAGRAPH SEPARATOR) are refused too."""
    require_text(field, value, max_length=max_length, allow_empty=allow_empty)
    if _LINE_BREAKS.search(value):
        raise InvalidInput(field, "must not contain line breaks or control characters")
    return value


def require_media_type(field: str, value: str) -> str:
    """`type/subtype` (RFC 6838 section 4.2), without parameters."""
    if not _MEDIA_TYPE.match(value):
        raise InvalidInput(field, "must be a media type such as application/pdf")
    return value
