"""What an IMAP server reports about folders and messages, as the sync reads it."""

from dataclasses import dataclass, field
from datetime import datetime

from domain.mailboxes import MailboxRole
from domain.messages import Flags


@dataclass(frozen=True, slots=True)
class RemoteFolder:
    name: str
    delimiter: str | None
    role: MailboxRole | None
    selectable: bool


@dataclass(frozen=True, slots=True)
class FlagUpdate:
    uid: int
    flags: Flags
    modseq: int | None = None


@dataclass(frozen=True, slots=True)
class SelectedFolder:
    """The state SELECT reports; with QRESYNC (RFC 7162 section 3.2.5) also what changed since a known state.
    `vanished` is None when the server reported too many UIDs vanished to list: the UIDs it has must be compared
    with the stored ones instead. `uidnext` is only the server's word: fetches follow the UIDs it really has."""

    uidvalidity: int
    uidnext: int
    exists: int
    highest_modseq: int | None
    vanished: list[int] | None = field(default_factory=list)
    changed: list[FlagUpdate] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class FetchedMessage:
    """A message's IMAP metadata and, unless it is over the size cap, its raw bytes."""

    uid: int
    flags: Flags
    internal_date: datetime
    size: int
    modseq: int | None
    raw: bytes | None
