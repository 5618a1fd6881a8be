"""Reading the envelope headers of a message leniently: a bad header is a warning, never an exception."""

import re
from datetime import UTC, datetime
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime

from adapters.mime.text import decode_words, unescape_8bit
from domain.messages import Address

_MESSAGE_ID = re.compile(r"<[^<>\s]+>")


def raw_header(message: Message, name: str) -> str | None:
    """The first raw value of a header, before any decoding (the registry in email.policy can raise)."""
    wanted = name.lower()
    for key, value in message.raw_items():
        if key.lower() == wanted:
            return str(value)
    return None


def text_header(message: Message, name: str, warnings: list[str]) -> str:
    raw = raw_header(message, name)
    return decode_words(raw, warnings) if raw else ""


def address_header(message: Message, name: str, warnings: list[str]) -> list[Address]:
    """Splits addresses before decoding encoded words, so a decoded name cannot add a separator."""
    raw = raw_header(message, name)
    if not raw:
        return []
    raw = unescape_8bit(raw, warnings).replace("\r", " ").replace("\n", " ")
    try:
        pairs = getaddresses([raw])
    except (ValueError, IndexError):
        warnings.append(f"unreadable {name} header")
        return []
    return [
        Address(name=decode_words(display, warnings), address=decode_words(address, warnings))
        for display, address in pairs
        if address and "@" in address
    ]


def date_header(message: Message, warnings: list[str]) -> datetime | None:
    raw = raw_header(message, "date")
    if not raw:
        warnings.append("no Date header")
        return None
    try:
        parsed = parsedate_to_datetime(decode_words(raw, warnings))
    except (TypeError, ValueError, IndexError, OverflowError):
        warnings.append("unreadable Date header")
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def message_ids(message: Message, name: str, warnings: list[str]) -> list[str]:
    """Message ids in their `<id@host>` form, in header order (RFC 5322 section 3.6.4)."""
    raw = raw_header(message, name)
    if not raw:
        return []
    return _MESSAGE_ID.findall(decode_words(raw, warnings))
