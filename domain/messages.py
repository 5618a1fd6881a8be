"""Messages as Mailroom stores them after a sync."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True, slots=True)
class Address:
    name: str
    address: str


@dataclass(frozen=True, slots=True)
class Flags:
    seen: bool = False
    flagged: bool = False
    answered: bool = False
    draft: bool = False
    deleted: bool = False
    keywords: frozenset[str] = frozenset()

    @classmethod
    def from_imap(cls, flags: Iterable[str]) -> "Flags":
        """System flags (RFC 3501 section 2.3.2) by name; other flags are keywords. \\Recent is session state."""
        system = {flag.lower() for flag in flags if flag.startswith("\\")}
        keywords = frozenset(flag for flag in flags if flag and not flag.startswith("\\"))
        return cls(
            seen="\\seen" in system,
            flagged="\\flagged" in system,
            answered="\\answered" in system,
            draft="\\draft" in system,
            deleted="\\deleted" in system,
            keywords=keywords,
        )


@dataclass(frozen=True, slots=True)
class Attachment:
    """`part` is the MIME section (RFC 3501 section 6.4.5) to extract from the stored raw message."""

    id: UUID
    filename: str | None
    content_type: str
    size: int
    content_id: str | None
    inline: bool
    part: str


@dataclass(slots=True)
class Message:
    id: UUID
    tenant_id: UUID
    account_id: UUID
    mailbox_id: UUID
    uid: int
    thread_id: UUID
    message_id: str | None
    subject: str
    sender: list[Address]
    to: list[Address]
    date: datetime | None
    internal_date: datetime
    size: int
    flags: Flags
    preview: str = ""
    cc: list[Address] = field(default_factory=list)
    bcc: list[Address] = field(default_factory=list)
    reply_to: list[Address] = field(default_factory=list)
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    text_body: str | None = None
    html_body: str | None = None
    attachments: list[Attachment] = field(default_factory=list)
    raw_blob_key: str | None = None
    parse_warnings: list[str] = field(default_factory=list)
    modseq: int | None = None


@dataclass(frozen=True, slots=True)
class MessageSummary:
    """A message as lists and search results show it: no bodies."""

    id: UUID
    account_id: UUID
    mailbox_id: UUID
    thread_id: UUID
    sender: list[Address]
    to: list[Address]
    subject: str
    preview: str
    date: datetime | None
    internal_date: datetime
    flags: Flags
    size: int
    has_attachments: bool
    sender_total: int
    to_total: int
    """How many From and To addresses the message has; the lists hold the first SUMMARY_ADDRESSES of them."""

    @classmethod
    def bounded(
        cls,
        id: UUID,
        account_id: UUID,
        mailbox_id: UUID,
        thread_id: UUID,
        sender: list[Address],
        to: list[Address],
        subject: str,
        preview: str,
        date: datetime | None,
        internal_date: datetime,
        flags: Flags,
        size: int,
        has_attachments: bool,
    ) -> "MessageSummary":
        """A summary of bounded size, whatever the sender put in the headers.

        A list page holds 50 summaries: one message with 20,000 To addresses or a 1 MB subject would otherwise
        make every page that shows it megabytes long. The whole values stay on the message itself.
        """
        return cls(
            id, account_id, mailbox_id, thread_id, _bounded_addresses(sender), _bounded_addresses(to),
            subject if len(subject) <= SUMMARY_SUBJECT_CHARS else subject[:SUMMARY_SUBJECT_CHARS], preview,
            date, internal_date, flags, size, has_attachments, len(sender), len(to),
        )  # fmt: skip


SUMMARY_SUBJECT_CHARS = 1000
SUMMARY_ADDRESSES = 20
SUMMARY_NAME_CHARS = 200
MAX_ADDRESS_CHARS = 320
"""RFC 5321 section 4.5.3.1: 64 for the local part, 255 for the domain, and the @."""


def _bounded_addresses(addresses: list[Address]) -> list[Address]:
    if len(addresses) <= SUMMARY_ADDRESSES and all(
        len(a.name) <= SUMMARY_NAME_CHARS and len(a.address) <= MAX_ADDRESS_CHARS for a in addresses
    ):
        return addresses
    return [Address(a.name[:SUMMARY_NAME_CHARS], a.address[:MAX_ADDRESS_CHARS]) for a in addresses[:SUMMARY_ADDRESSES]]


def summary_of(message: Message) -> MessageSummary:
    """The summary of a whole message: what the SQL stores read from their columns (mail_mappers.summary_from_row),
    the in-memory store's lists, and the message events of a sync; the message search contract holds them equal."""
    return MessageSummary.bounded(
        id=message.id,
        account_id=message.account_id,
        mailbox_id=message.mailbox_id,
        thread_id=message.thread_id,
        sender=list(message.sender),
        to=list(message.to),
        subject=message.subject,
        preview=message.preview,
        date=message.date,
        internal_date=message.internal_date,
        flags=message.flags,
        size=message.size,
        has_attachments=bool(message.attachments),
    )
