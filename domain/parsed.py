"""What the MIME parser reads out of raw RFC 5322 bytes, before the sync turns it into a stored Message."""

from dataclasses import dataclass, field
from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from domain.messages import Address


@dataclass(frozen=True, slots=True)
class AttachmentPart:
    """An attachment as found in the MIME tree; `part` is its IMAP section number (RFC 3501 6.4.5), e.g. "2.1"."""

    part: str
    filename: str | None
    content_type: str
    size: int
    content_id: str | None
    inline: bool


@dataclass(frozen=True, slots=True)
class ParsedMessage:
    subject: str
    sender: list[Address]
    to: list[Address]
    cc: list[Address]
    bcc: list[Address]
    reply_to: list[Address]
    date: datetime | None
    message_id: str | None
    in_reply_to: str | None
    references: list[str]
    text_body: str | None
    html_body: str | None
    preview: str
    attachments: list[AttachmentPart]
    warnings: list[str] = field(default_factory=list)

    @property
    def thread_key(self) -> str | None:
        """The conversation a message belongs to: the first message its References name, else its parent
        (In-Reply-To), else itself (RFC 5322 section 3.6.4). None when a message names none of these."""
        if self.references:
            return self.references[0]
        return self.in_reply_to or self.message_id


def thread_id_for(account_id: UUID, thread_key: str | None) -> UUID | None:
    """The same conversation root gives the same thread id in an account, with no lookup."""
    return uuid5(NAMESPACE_URL, f"mailroom:thread:{account_id}:{thread_key}") if thread_key else None
