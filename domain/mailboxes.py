"""IMAP folders and the per-folder sync position."""

from collections.abc import Iterable
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


_SPECIAL_USE = {
    "\\sent": MailboxRole.SENT,
    "\\drafts": MailboxRole.DRAFTS,
    "\\trash": MailboxRole.TRASH,
    "\\junk": MailboxRole.JUNK,
    "\\archive": MailboxRole.ARCHIVE,
    "\\all": MailboxRole.ALL,
    "\\flagged": MailboxRole.FLAGGED,
}
_BY_NAME = {
    MailboxRole.SENT: ("sent", "sent items", "sent messages", "sent mail", "gesendet", "envoyés", "enviados"),
    MailboxRole.DRAFTS: ("drafts", "draft", "entwürfe", "brouillons", "borradores"),
    MailboxRole.TRASH: ("trash", "deleted items", "deleted messages", "bin", "papierkorb", "corbeille", "papelera"),
    MailboxRole.JUNK: ("junk", "spam", "junk e-mail", "junk email", "bulk mail"),
    MailboxRole.ARCHIVE: ("archive", "archives", "archiv"),
}


def role_for(name: str, delimiter: str | None, flags: Iterable[str]) -> MailboxRole | None:
    """A folder's role: INBOX by name (RFC 3501 section 5.1), then RFC 6154 special-use flags, then common
    names of the last hierarchy level for servers without SPECIAL-USE (`[Gmail]/Sent Mail`, `INBOX.Sent`)."""
    if name.upper() == "INBOX":
        return MailboxRole.INBOX
    for flag in flags:
        if (role := _SPECIAL_USE.get(flag.lower())) is not None:
            return role
    leaf = (name.rsplit(delimiter, 1)[-1] if delimiter else name).strip().lower()
    return next((role for role, names in _BY_NAME.items() if leaf in names), None)


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
    remote_id: str | None = None
    """The server's id for the folder, which a rename keeps (RFC 8474 MAILBOXID, or Dovecot's X-GUID): how a rename
    is told from a folder deleted and another made. None where the server has neither."""
