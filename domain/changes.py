"""The change log: what happened to a tenant's mail, in the order it was committed.

An event is written in the same transaction as the change that caused it (a transactional outbox): a committed
change always has its event and a rolled-back one never does. The log is the one truth that the change feed, the
webhooks and the live stream serve; each tenant's events carry a `sequence` that only grows, so a client that
remembers the last one it saw resumes exactly there."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from domain.errors import DomainError, InvalidInput
from domain.mailboxes import Mailbox
from domain.messages import Address, Flags, MessageSummary


class ChangeType(StrEnum):
    MESSAGE_CREATED = "message.created"
    MESSAGE_UPDATED = "message.updated"
    MESSAGE_MOVED = "message.moved"
    MESSAGE_DELETED = "message.deleted"
    MAILBOX_CREATED = "mailbox.created"
    MAILBOX_RENAMED = "mailbox.renamed"
    MAILBOX_DELETED = "mailbox.deleted"
    ACCOUNT_SYNCED = "account.synced"
    ACCOUNT_ERROR = "account.error"
    ACCOUNT_RECOVERED = "account.recovered"
    DRAFT_SENT = "draft.sent"
    DRAFT_FAILED = "draft.failed"
    WEBHOOK_DISABLED = "webhook.disabled"
    WEBHOOK_TEST = "webhook.test"
    """Sent to one endpoint when asked (POST /api/webhooks/{id}/test); never written to the log."""


LOGGED_TYPES = frozenset(ChangeType) - {ChangeType.WEBHOOK_TEST}

Data = Mapping[str, Any]
"""JSON-shaped: str, int, bool, None, UUID and datetime values (the adapters encode them the way the API does),
in lists and mappings."""


@dataclass(frozen=True, slots=True)
class Change:
    """An event as a use case records it; the log gives it its `sequence` when the transaction commits."""

    id: UUID
    type: ChangeType
    tenant_id: UUID
    account_id: UUID | None
    created_at: datetime
    data: Data = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LoggedChange:
    """An event as the log holds it: `sequence` is its place in its tenant's log, the cursor of everything
    up to it."""

    sequence: int
    change: Change

    @property
    def cursor(self) -> str:
        return encode_cursor(self.sequence)


class CursorExpired(DomainError):
    """The events after this cursor are partly pruned (older than the retention): the client must re-read its
    state, then follow the feed from the cursor it is given now."""


def encode_cursor(sequence: int) -> str:
    """Opaque to clients; the same kind for the change feed and the stream's `id:`, so a client can switch."""
    return str(sequence)


def decode_cursor(cursor: str, field_name: str = "since") -> int:
    if not cursor.isascii() or not cursor.isdigit() or len(cursor) > 19:
        raise InvalidInput(field_name, "not a cursor this service gave out")
    return int(cursor)


@dataclass(frozen=True, slots=True)
class ChangeFilter:
    """What a reader of the log wants: the types (all when empty) and accounts (all when None)."""

    types: frozenset[ChangeType] = frozenset()
    account_ids: frozenset[UUID] | None = None

    def matches(self, change: Change) -> bool:
        if self.types and change.type not in self.types:
            return False
        return self.account_ids is None or change.account_id in self.account_ids


def parse_types(names: Sequence[str], field_name: str) -> frozenset[ChangeType]:
    """`*` (alone) means every type."""
    if list(names) == ["*"]:
        return frozenset()
    chosen: set[ChangeType] = set()
    for name in names:
        try:
            chosen.add(ChangeType(name))
        except ValueError:
            raise InvalidInput(field_name, f"unknown event type {name!r}") from None
    return frozenset(chosen)


def summary_data(summary: MessageSummary) -> dict[str, Any]:
    """A message as the API lists it (GET .../messages items), so a client handles an event's message and a list
    item with the same code; tests hold the two equal."""
    return {
        "id": summary.id,
        "account_id": summary.account_id,
        "mailbox_id": summary.mailbox_id,
        "thread_id": summary.thread_id,
        "from": _addresses(summary.sender),
        "to": _addresses(summary.to),
        "subject": summary.subject,
        "preview": summary.preview,
        "date": summary.date,
        "internal_date": summary.internal_date,
        "flags": flags_data(summary.flags),
        "size": summary.size,
        "has_attachments": summary.has_attachments,
        "from_total": summary.sender_total,
        "to_total": summary.to_total,
    }


def flags_data(flags: Flags) -> dict[str, Any]:
    return {
        "seen": flags.seen,
        "flagged": flags.flagged,
        "answered": flags.answered,
        "draft": flags.draft,
        "deleted": flags.deleted,
        "keywords": sorted(flags.keywords),
    }


def _addresses(addresses: list[Address]) -> list[dict[str, str]]:
    return [{"name": a.name, "address": a.address} for a in addresses]


def change_document(logged: LoggedChange) -> dict[str, Any]:
    """An event as every way out shows it: an item of GET /api/changes, a webhook's body, a stream's `data:`."""
    change = logged.change
    return {
        "id": change.id,
        "type": change.type.value,
        "created_at": change.created_at,
        "tenant_id": change.tenant_id,
        "account_id": change.account_id,
        "sequence": logged.sequence,
        "cursor": logged.cursor,
        "data": change.data,
    }


def message_created(tenant_id: UUID, summary: MessageSummary, at: datetime, event_id: UUID) -> Change:
    return Change(
        event_id, ChangeType.MESSAGE_CREATED, tenant_id, summary.account_id, at, {"message": summary_data(summary)}
    )


def message_updated(tenant_id: UUID, summary: MessageSummary, before: Flags, at: datetime, event_id: UUID) -> Change:
    """Flags and keywords, old and new: a client applies the change without reading the message again."""
    data = {
        "message": summary_data(summary),
        "changes": {"flags": {"before": flags_data(before), "after": flags_data(summary.flags)}},
    }
    return Change(event_id, ChangeType.MESSAGE_UPDATED, tenant_id, summary.account_id, at, data)


def message_moved(
    tenant_id: UUID, summary: MessageSummary, from_mailbox_id: UUID, at: datetime, event_id: UUID
) -> Change:
    """The message keeps its id; `message.mailbox_id` is the folder it is in now."""
    data = {
        "message": summary_data(summary),
        "from_mailbox_id": from_mailbox_id,
        "to_mailbox_id": summary.mailbox_id,
    }
    return Change(event_id, ChangeType.MESSAGE_MOVED, tenant_id, summary.account_id, at, data)


def message_deleted(tenant_id: UUID, summary: MessageSummary, at: datetime, event_id: UUID) -> Change:
    """The message as it was before it went."""
    return Change(
        event_id, ChangeType.MESSAGE_DELETED, tenant_id, summary.account_id, at, {"message": summary_data(summary)}
    )


def mailbox_event(
    kind: ChangeType, mailbox: Mailbox, at: datetime, event_id: UUID, old_name: str | None = None
) -> Change:
    data: dict[str, Any] = {"mailbox": {"id": mailbox.id, "name": mailbox.name, "role": mailbox.role}}
    if old_name is not None:
        data["old_name"] = old_name
    return Change(event_id, kind, mailbox.tenant_id, mailbox.account_id, at, data)
