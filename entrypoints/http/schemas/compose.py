"""Draft bodies (JSON, or the same fields as multipart/form-data with file parts) and the draft as shown."""

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec
from msgspec import UNSET, UnsetType

from application.compose.drafts import DraftView
from domain.drafts import DraftStatus
from entrypoints.http.schemas.messages import AddressOut, SafeHtmlField

Text = Annotated[str, msgspec.Meta(max_length=10_000_000)]
Subject = Annotated[str, msgspec.Meta(max_length=998)]


class RecipientIn(msgspec.Struct, forbid_unknown_fields=True):
    address: Annotated[str, msgspec.Meta(max_length=254, examples=["bob@example.com"])]
    name: Annotated[str, msgspec.Meta(max_length=200)] = ""


Recipient = Annotated[
    RecipientIn | str, msgspec.Meta(description='`{"name", "address"}`, or a string: "Bob <bob@example.com>"')
]


class AttachmentIn(msgspec.Struct, forbid_unknown_fields=True):
    """A new file (`filename`, `content_base64`, `content_type`), or one the draft has, by `id`."""

    filename: Annotated[str, msgspec.Meta(max_length=255)] | UnsetType = UNSET
    content_type: str = "application/octet-stream"
    content_base64: str | UnsetType = UNSET
    id: UUID | UnsetType = UNSET


class ComposeIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Every field may be left out when a draft is updated: it keeps its value."""

    account_id: UUID | UnsetType = UNSET
    sender: Recipient | UnsetType = msgspec.field(default=UNSET, name="from")
    to: list[Recipient] | UnsetType = UNSET
    cc: list[Recipient] | UnsetType = UNSET
    bcc: list[Recipient] | UnsetType = UNSET
    subject: Subject | UnsetType = UNSET
    text: Text | UnsetType = UNSET
    html: Text | UnsetType = UNSET
    attachments: list[AttachmentIn] | UnsetType = UNSET
    in_reply_to: UUID | UnsetType = UNSET
    forward_of: UUID | UnsetType = UNSET
    id: UUID | UnsetType = UNSET


class SendIn(msgspec.Struct, forbid_unknown_fields=True):
    send_at: datetime | None = None


class SendQueued(msgspec.Struct):
    job_id: str
    status: str
    draft_id: UUID
    send_at: datetime | None


class DraftAttachmentOut(msgspec.Struct):
    id: UUID
    filename: str
    content_type: str
    size: int


class DraftOut(msgspec.Struct, kw_only=True):
    id: UUID
    account_id: UUID
    status: DraftStatus
    sender: AddressOut = msgspec.field(name="from")
    to: list[AddressOut]
    cc: list[AddressOut]
    bcc: list[AddressOut]
    subject: str
    text: str | None
    html: SafeHtmlField
    in_reply_to: str | None
    references: list[str]
    attachments: list[DraftAttachmentOut]
    message_id: str | None
    attempts: int
    last_smtp_reply: str | None
    send_at: datetime | None
    queued_at: datetime | None
    sent_at: datetime | None
    sent_copy_error: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, view: DraftView) -> "DraftOut":
        draft, html = view.draft, view.html
        content = draft.content
        return cls(
            id=draft.id,
            account_id=draft.account_id,
            status=draft.status,
            sender=AddressOut(content.sender.name, content.sender.address),
            to=[AddressOut(a.name, a.address) for a in content.to],
            cc=[AddressOut(a.name, a.address) for a in content.cc],
            bcc=[AddressOut(a.name, a.address) for a in content.bcc],
            subject=content.subject,
            text=content.text,
            html=html.html if html else None,
            in_reply_to=content.in_reply_to,
            references=list(content.references),
            attachments=[DraftAttachmentOut(a.id, a.filename, a.content_type, a.size) for a in content.attachments],
            message_id=draft.outgoing.message_id if draft.outgoing else None,
            attempts=draft.attempts,
            last_smtp_reply=draft.last_smtp_reply,
            send_at=draft.send_at,
            queued_at=draft.queued_at,
            sent_at=draft.sent_at,
            sent_copy_error=draft.sent_copy_error,
            created_at=draft.created_at,
            updated_at=draft.updated_at,
        )
