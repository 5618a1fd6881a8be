"""Mailboxes, messages, threads and search results as the API shows them."""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from domain.html import SafeHtml
from domain.mailboxes import Mailbox, MailboxRole
from domain.messages import Address, Attachment, Flags, Message, MessageSummary
from domain.search import KeysetPage


class AddressOut(msgspec.Struct):
    name: str
    address: str


def _addresses(addresses: list[Address]) -> list[AddressOut]:
    return [AddressOut(a.name, a.address) for a in addresses]


class FlagsOut(msgspec.Struct):
    seen: bool
    flagged: bool
    answered: bool
    draft: bool
    deleted: bool
    keywords: list[str]

    @classmethod
    def of(cls, flags: Flags) -> "FlagsOut":
        return cls(flags.seen, flags.flagged, flags.answered, flags.draft, flags.deleted, sorted(flags.keywords))


class MailboxOut(msgspec.Struct):
    id: UUID
    name: str
    role: MailboxRole | None
    total: int
    unread: int
    last_synced_at: datetime | None

    @classmethod
    def of(cls, mailbox: Mailbox) -> "MailboxOut":
        return cls(
            mailbox.id, mailbox.name, mailbox.role, mailbox.message_count, mailbox.unread_count, mailbox.last_synced_at
        )


class MailboxList(msgspec.Struct):
    items: list[MailboxOut]


class MessageSummaryOut(msgspec.Struct, kw_only=True):
    id: UUID
    account_id: UUID
    mailbox_id: UUID
    thread_id: UUID
    sender: list[AddressOut] = msgspec.field(name="from")
    to: list[AddressOut]
    subject: str
    preview: str
    date: datetime | None
    internal_date: datetime
    flags: FlagsOut
    size: int
    has_attachments: bool
    from_total: Annotated[int, msgspec.Meta(description="how many From addresses the message has (`from` shows 20)")]
    to_total: Annotated[int, msgspec.Meta(description="how many To addresses the message has (`to` shows 20)")]

    @classmethod
    def of(cls, m: MessageSummary) -> "MessageSummaryOut":
        return cls(
            id=m.id,
            account_id=m.account_id,
            mailbox_id=m.mailbox_id,
            thread_id=m.thread_id,
            sender=_addresses(m.sender),
            to=_addresses(m.to),
            subject=m.subject,
            preview=m.preview,
            date=m.date,
            internal_date=m.internal_date,
            flags=FlagsOut.of(m.flags),
            size=m.size,
            has_attachments=m.has_attachments,
            from_total=m.sender_total,
            to_total=m.to_total,
        )


class MessagePage(msgspec.Struct):
    items: list[MessageSummaryOut]
    next_cursor: str | None

    @classmethod
    def of(cls, page: KeysetPage[MessageSummary]) -> "MessagePage":
        return cls(
            items=[MessageSummaryOut.of(m) for m in page.items],
            next_cursor=page.next_cursor.encode() if page.next_cursor else None,
        )


class AttachmentOut(msgspec.Struct):
    id: UUID
    filename: str | None
    content_type: str
    size: int
    content_id: str | None
    inline: bool

    @classmethod
    def of(cls, a: Attachment) -> "AttachmentOut":
        return cls(a.id, a.filename, a.content_type, a.size, a.content_id, a.inline)


SafeHtmlField = Annotated[
    str | None,
    msgspec.Meta(
        description="The HTML body, sanitised: no scripts, event handlers, forms, frames, plug-ins or dangerous URLs. "
        "Remote images carry `data-remote-src` with their URL, and no `src` when `remote_images=false`; `cid:` "
        "images point at the attachment URLs. The original is in the raw message."
    ),
]


class MessageOut(msgspec.Struct, kw_only=True):
    id: UUID
    account_id: UUID
    mailbox_id: UUID
    thread_id: UUID
    message_id: str | None
    subject: str
    sender: list[AddressOut] = msgspec.field(name="from")
    to: list[AddressOut]
    cc: list[AddressOut]
    bcc: list[AddressOut]
    reply_to: list[AddressOut]
    date: datetime | None
    internal_date: datetime
    size: int
    flags: FlagsOut
    in_reply_to: str | None
    references: list[str]
    text: str | None
    html: SafeHtmlField
    attachments: list[AttachmentOut]
    warnings: list[str]

    @classmethod
    def of(cls, m: Message, html: SafeHtml | None) -> "MessageOut":
        return cls(
            id=m.id,
            account_id=m.account_id,
            mailbox_id=m.mailbox_id,
            thread_id=m.thread_id,
            message_id=m.message_id,
            subject=m.subject,
            sender=_addresses(m.sender),
            to=_addresses(m.to),
            cc=_addresses(m.cc),
            bcc=_addresses(m.bcc),
            reply_to=_addresses(m.reply_to),
            date=m.date,
            internal_date=m.internal_date,
            size=m.size,
            flags=FlagsOut.of(m.flags),
            in_reply_to=m.in_reply_to,
            references=list(m.references),
            text=m.text_body,
            html=html.html if html else None,
            attachments=[AttachmentOut.of(a) for a in m.attachments],
            warnings=list(dict.fromkeys([*m.parse_warnings, *(html.warnings if html else ())])),
        )


class ThreadOut(msgspec.Struct):
    thread_id: UUID
    items: list[MessageSummaryOut]


class FlagsPatch(msgspec.Struct, forbid_unknown_fields=True):
    seen: bool | msgspec.UnsetType = msgspec.UNSET
    flagged: bool | msgspec.UnsetType = msgspec.UNSET


class MoveIn(msgspec.Struct, forbid_unknown_fields=True):
    mailbox_id: UUID


class JobQueued(msgspec.Struct):
    job_id: str
    status: Literal["queued"] = "queued"
