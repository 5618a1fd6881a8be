"""Rows of the mail tables to domain objects and back."""

from dataclasses import asdict
from itertools import product
from typing import Any
from uuid import UUID

import msgspec
from sqlalchemy import ColumnElement, Text, cast

from adapters.persistence.mail_models import AccountSyncModel, MailboxModel, MessageModel
from domain.mailboxes import Mailbox, MailboxRole, SyncState
from domain.messages import (
    SUMMARY_NAME_CHARS,
    SUMMARY_SUBJECT_CHARS,
    Address,
    Attachment,
    Flags,
    Message,
    MessageSummary,
)
from domain.sync import AccountSync, SyncPhase, SyncProgress


def mailbox_from_row(row: MailboxModel) -> Mailbox:
    state = SyncState(row.uidvalidity, row.last_uid, row.highest_modseq) if row.uidvalidity is not None else None
    return Mailbox(
        id=row.id,
        tenant_id=row.tenant_id,
        account_id=row.account_id,
        name=row.name,
        delimiter=row.delimiter,
        role=MailboxRole(row.role) if row.role else None,
        sync_state=state,
        message_count=row.message_count,
        unread_count=row.unread_count,
        last_synced_at=row.last_synced_at,
        remote_id=row.remote_id,
    )


def copy_mailbox_to_row(mailbox: Mailbox, row: MailboxModel) -> MailboxModel:
    state = mailbox.sync_state
    row.id, row.tenant_id, row.account_id = mailbox.id, mailbox.tenant_id, mailbox.account_id
    row.name, row.delimiter, row.role = mailbox.name, mailbox.delimiter, mailbox.role.value if mailbox.role else None
    row.uidvalidity = state.uidvalidity if state else None
    row.last_uid = state.last_uid if state else 0
    row.highest_modseq = state.highest_modseq if state else None
    row.message_count, row.unread_count = mailbox.message_count, mailbox.unread_count
    row.last_synced_at = mailbox.last_synced_at
    row.remote_id = mailbox.remote_id
    return row


def _addresses(items: list[dict[str, str]]) -> list[Address]:
    return [Address(item["name"], item["address"]) for item in items]


def _address_rows(addresses: list[Address]) -> list[dict[str, str]]:
    return [{"name": a.name, "address": a.address} for a in addresses]


def message_row(message: Message) -> dict[str, Any]:
    """Column values for a bulk INSERT."""
    flags = message.flags
    return {
        "id": message.id,
        "tenant_id": message.tenant_id,
        "account_id": message.account_id,
        "mailbox_id": message.mailbox_id,
        "uid": message.uid,
        "thread_id": message.thread_id,
        "message_id": message.message_id,
        "subject": message.subject,
        "sender": _address_rows(message.sender),
        "recipients_to": _address_rows(message.to),
        "recipients_cc": _address_rows(message.cc),
        "recipients_bcc": _address_rows(message.bcc),
        "reply_to": _address_rows(message.reply_to),
        "date": message.date,
        "internal_date": message.internal_date,
        "size": message.size,
        **flag_columns(flags),
        "modseq": message.modseq,
        "preview": message.preview[:300],
        "text_body": message.text_body,
        "html_body": message.html_body,
        "attachments": [{**asdict(a), "id": str(a.id)} for a in message.attachments],
        "has_attachments": bool(message.attachments),
        "raw_blob_key": message.raw_blob_key,
        "in_reply_to": message.in_reply_to,
        "references": message.references,
        "parse_warnings": message.parse_warnings,
        "from_text": address_text(message.sender),
        "to_text": address_text([*message.to, *message.cc, *message.bcc]),
        "from_address": message.sender[0].address.lower()[:998] if message.sender else "",
    }


def address_text(addresses: list[Address]) -> str:
    """Names and addresses as one lower-case string, for full text and the parts-of-an-address filters."""
    return " ".join(f"{a.name} {a.address}".strip() for a in addresses).lower()


def flag_columns(flags: Flags) -> dict[str, Any]:
    return {
        "seen": flags.seen,
        "flagged": flags.flagged,
        "answered": flags.answered,
        "draft": flags.draft,
        "deleted": flags.deleted,
        "keywords": sorted(flags.keywords),
    }


def message_from_row(row: MessageModel) -> Message:
    return Message(
        id=row.id,
        tenant_id=row.tenant_id,
        account_id=row.account_id,
        mailbox_id=row.mailbox_id,
        uid=row.uid,
        thread_id=row.thread_id,
        message_id=row.message_id,
        subject=row.subject,
        sender=_addresses(row.sender),
        to=_addresses(row.recipients_to),
        cc=_addresses(row.recipients_cc),
        bcc=_addresses(row.recipients_bcc),
        reply_to=_addresses(row.reply_to),
        date=row.date,
        internal_date=row.internal_date,
        size=row.size,
        flags=Flags(row.seen, row.flagged, row.answered, row.draft, row.deleted, frozenset(row.keywords)),
        preview=row.preview,
        in_reply_to=row.in_reply_to,
        references=list(row.references),
        text_body=row.text_body,
        html_body=row.html_body,
        attachments=[Attachment(**{**a, "id": UUID(a["id"])}) for a in row.attachments],
        raw_blob_key=row.raw_blob_key,
        parse_warnings=list(row.parse_warnings),
        modseq=row.modseq,
    )


def summary_from_row(row: Any) -> MessageSummary:
    """From a row that starts with SUMMARY_COLUMNS, unpacked by position: a list page maps 50 rows, and reading
    18 fields by name from each is a key lookup per field. The addresses and keywords come as JSON text, decoded by
    msgspec straight into their types; most messages have no keywords, and their flags are shared.

    Summaries are bounded (MessageSummary.bounded). Most rows need no cutting, and that shows without decoding:
    address JSON no longer than SUMMARY_NAME_CHARS cannot hold more than SUMMARY_ADDRESSES addresses nor a name or
    address over its bound, so such rows skip the checks of every address."""
    (
        id_, account_id, mailbox_id, thread_id, sender, to, subject, preview, date, internal_date,
        seen, flagged, answered, draft, deleted, keywords, size, has_attachments,
    ) = row[: len(SUMMARY_COLUMNS)]  # fmt: skip
    flags = flags_from_columns(seen, flagged, answered, draft, deleted, keywords)
    senders, recipients = _decode_addresses(sender), _decode_addresses(to)
    if len(sender) <= SUMMARY_NAME_CHARS and len(to) <= SUMMARY_NAME_CHARS and len(subject) <= SUMMARY_SUBJECT_CHARS:
        return MessageSummary(
            id_, account_id, mailbox_id, thread_id, senders, recipients, subject, preview, date, internal_date,
            flags, size, has_attachments, len(senders), len(recipients),
        )  # fmt: skip
    return MessageSummary.bounded(
        id_, account_id, mailbox_id, thread_id, senders, recipients, subject, preview,
        date, internal_date, flags, size, has_attachments,
    )  # fmt: skip


_decode_addresses = msgspec.json.Decoder(list[Address]).decode
_decode_keywords = msgspec.json.Decoder(frozenset[str]).decode


def flags_from_columns(seen: bool, flagged: bool, answered: bool, draft: bool, deleted: bool, keywords: str) -> Flags:
    """`keywords` as JSON text; most messages have none, and their flags are shared."""
    if keywords == "[]":
        return _PLAIN_FLAGS[seen, flagged, answered, draft, deleted]
    return Flags(seen, flagged, answered, draft, deleted, _decode_keywords(keywords))


_PLAIN_FLAGS = {(s, f, a, d, x): Flags(s, f, a, d, x) for s, f, a, d, x in product((False, True), repeat=5)}
_AS_TEXT = {"sender", "recipients_to", "keywords"}  # JSON, read as its text (see summary_from_row)
SUMMARY_COLUMNS: list[ColumnElement[Any]] = [  # the table's columns, not the model's attributes: cheaper to build
    cast(MessageModel.__table__.c[name], Text).label(name) if name in _AS_TEXT else MessageModel.__table__.c[name]
    for name in [
        "id",
        "account_id",
        "mailbox_id",
        "thread_id",
        "sender",
        "recipients_to",
        "subject",
        "preview",
        "date",
        "internal_date",
        "seen",
        "flagged",
        "answered",
        "draft",
        "deleted",
        "keywords",
        "size",
        "has_attachments",
    ]
]


def sync_from_row(row: AccountSyncModel) -> AccountSync:
    return AccountSync(
        tenant_id=row.tenant_id,
        account_id=row.account_id,
        phase=SyncPhase(row.phase),
        job_id=row.job_id,
        started_at=row.started_at,
        finished_at=row.finished_at,
        last_error=row.last_error,
        progress=SyncProgress(row.folders_done, row.folders_total, row.messages_fetched, row.messages_total),
        lease_owner=row.lease_owner,
        lease_expires_at=row.lease_expires_at,
        queued_at=row.queued_at,
        first_synced_at=row.first_synced_at,
        failing_since=row.failing_since,
    )


def copy_sync_to_row(sync: AccountSync, row: AccountSyncModel) -> AccountSyncModel:
    row.tenant_id, row.account_id, row.phase, row.job_id = (
        sync.tenant_id,
        sync.account_id,
        sync.phase.value,
        sync.job_id,
    )
    row.started_at, row.finished_at, row.last_error = sync.started_at, sync.finished_at, sync.last_error
    row.folders_done, row.folders_total = sync.progress.folders_done, sync.progress.folders_total
    row.messages_fetched, row.messages_total = sync.progress.messages_fetched, sync.progress.messages_total
    row.lease_owner, row.lease_expires_at = sync.lease_owner, sync.lease_expires_at
    row.queued_at = sync.queued_at
    row.first_synced_at, row.failing_since = sync.first_synced_at, sync.failing_since
    return row
