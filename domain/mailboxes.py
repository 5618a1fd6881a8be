"""IMAP folders and the per-folder sync position."""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID


class MailboxRole(StrEnum):
    """Special-use roles (RFC 6154) plus INBOX (RFC 3501 section 5.1)."""

    INBOX = "inbox"
    SENT = "sent"
    DRAFTS = "drafts"
    TRASH = "trash"
    JUNK = "junk"
    ARCHIVE = "archive"
    ALL = "all"
    FLAGGED = "flagged"


@dataclass(frozen=True, slots=True)
class SyncState:
    """Where the last sync of a folder stopped.

    A UIDVALIDITY change (RFC 3501 section 2.3.1.1) invalidates every stored UID of the folder;
    `highest_modseq` is only set where the server has CONDSTORE (RFC 7162).
    """

    uidvalidity: int
    last_uid: int = 0
    highest_modseq: int | None = None


@dataclass(slots=True)
class Mailbox:
    id: UUID
    tenant_id: UUID
    account_id: UUID
    name: str
    delimiter: str | None
    role: MailboxRole | None
    sync_state: SyncState | None
    message_count: int = 0
    unread_count: int = 0
    last_synced_at: datetime | None = None
