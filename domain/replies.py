"""How a reply and a forward take their headers from the original (RFC 5322 section 3.6.4)."""

import re

from domain.messages import Address, Message

_REPLY_PREFIX = re.compile(r"^\s*(re|aw|sv|antw)\s*:", re.IGNORECASE)
_FORWARD_PREFIX = re.compile(r"^\s*(fwd?|wg|tr)\s*:", re.IGNORECASE)
MAX_REFERENCES = 20


def reply_subject(subject: str) -> str:
    return subject if _REPLY_PREFIX.match(subject) else f"Re: {subject}"


def forward_subject(subject: str) -> str:
    return subject if _FORWARD_PREFIX.match(subject) else f"Fwd: {subject}"


def reply_references(original: Message) -> tuple[str, ...]:
    """The original's References (or its In-Reply-To) and its own Message-ID; the oldest are dropped past
    MAX_REFERENCES, keeping the first, as RFC 5322 section 3.6.4 allows."""
    chain = list(original.references) or ([original.in_reply_to] if original.in_reply_to else [])
    if original.message_id:
        chain.append(original.message_id)
    if len(chain) > MAX_REFERENCES:
        chain = [chain[0], *chain[-(MAX_REFERENCES - 1) :]]
    return tuple(chain)


def reply_recipients(original: Message) -> tuple[Address, ...]:
    return tuple(original.reply_to or original.sender)


def forward_filename(subject: str) -> str:
    stem = re.sub(r"[^\w .()-]+", "_", subject).strip(" ._") or "message"
    return f"{stem[:200]}.eml"
