"""What callers send to the compose use cases. None means "not given": a new draft takes the default, an
updated one keeps what it had."""

from dataclasses import dataclass, field
from uuid import UUID

from domain.messages import Address


@dataclass(frozen=True, slots=True)
class NewAttachment:
    filename: str
    content_type: str
    data: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class KeptAttachment:
    """An attachment the draft already has, kept by its id."""

    id: UUID


@dataclass(frozen=True, slots=True)
class ComposeRequest:
    account_id: UUID | None = None
    sender: Address | None = None
    to: tuple[Address, ...] | None = None
    cc: tuple[Address, ...] | None = None
    bcc: tuple[Address, ...] | None = None
    subject: str | None = None
    text: str | None = None
    html: str | None = None
    attachments: tuple[NewAttachment | KeptAttachment, ...] | None = None
    in_reply_to: UUID | None = None
    forward_of: UUID | None = None
