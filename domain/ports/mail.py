from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol

from domain.accounts import MailLogin, ServerSettings
from domain.drafts import DraftContent, Envelope
from domain.mailboxes import SyncState
from domain.messages import Address
from domain.parsed import ParsedMessage
from domain.remote import FetchedMessage, FlagUpdate, RemoteFolder, SelectedFolder


class ImapLoginCheck(Protocol):
    """Whether an account's IMAP settings and password (or access token) log in, before they are stored."""

    async def verify_login(self, server: ServerSettings, login: MailLogin) -> None:
        """Connects and logs in; raises MailServerRejected with the server's reason."""
        ...


class MailSender(Protocol):
    """The SMTP side of a mail account."""

    async def verify_login(self, server: ServerSettings, login: MailLogin) -> None:
        """Connects and authenticates; raises MailServerRejected with the server's reason (LoginRefused when it
        refused the credentials)."""
        ...

    async def send(self, server: ServerSettings, login: MailLogin, envelope: Envelope, message: bytes) -> str:
        """Hands `message` to the server for the envelope's recipients and returns the server's reply to the
        data (`250 2.0.0 Ok: queued as ...`). Raises DeliveryFailed: permanent for a 5xx reply, temporary for a
        4xx reply, a dropped connection or a timeout; `login_refused` when the credentials were refused.
        Connections may be kept open and reused per login."""
        ...


class MessageComposer(Protocol):
    def compose(self, content: DraftContent, message_id: str, date: datetime, attachments: Sequence[bytes]) -> bytes:
        """The RFC 5322 message with CRLF line endings; Bcc stays out of the headers. `attachments[i]` holds the
        bytes of `content.attachments[i]`. Raises InvalidInput when a header could not be written safely."""
        ...

    def sent_copy(self, message: bytes, bcc: Sequence[Address]) -> bytes:
        """The sent `message` as filed in the sender's Sent folder: with a Bcc header naming `bcc`, which the
        recipients never see, so that the sender can."""
        ...


class MessageParser(Protocol):
    def parse(self, raw: bytes) -> ParsedMessage:
        """Reads raw RFC 5322 bytes; never raises: what cannot be read is listed in `warnings`."""
        ...

    async def parse_many(self, raws: Sequence[bytes]) -> list[ParsedMessage]:
        """`parse` of each, off the event loop (it is CPU work), in the same order."""
        ...

    def extract(self, raw: bytes, part: str) -> bytes | None:
        """The decoded content of MIME section `part` (as `AttachmentPart.part` names it), None if absent."""
        ...


class ImapSession(Protocol):
    """A logged-in IMAP connection, as the sync uses it. Every call has a timeout. A server's answer that breaks
    the protocol or a limit raises MailServerRejected."""

    @property
    def reports_vanished(self) -> bool:
        """The server lists what was expunged since a known state when a folder is selected (QRESYNC, RFC 7162
        section 3.2.5), so `SelectedFolder.vanished` is the whole answer."""
        ...

    @property
    def usable(self) -> bool:
        """False once a call timed out, lost the connection or was cut off mid-answer: the connection cannot carry
        another command, and a new session is needed. A refusal (NO, BAD) or an unreadable answer leaves it usable."""
        ...

    async def list_folders(self) -> list[RemoteFolder]: ...

    async def select(self, name: str, known: SyncState | None = None) -> SelectedFolder:
        """Selects read-only. With QRESYNC and a known state, also reports what vanished or changed since."""
        ...

    async def fetch_messages(self, uids: Sequence[int], max_size: int) -> list[FetchedMessage]:
        """The messages of these UIDs the server still has, by UID; bodies announced over `max_size` bytes are not
        downloaded. The call fails when one body turns out over `max_size`, or a set of bodies over twice the
        sizes the server announced for them."""
        ...

    async def fetch_flags(self, first_uid: int, changed_since: int | None = None) -> list[FlagUpdate]:
        """Flags of messages from `first_uid` up; with CONDSTORE only those changed since the mod-sequence."""
        ...

    async def uids(self, first_uid: int = 1) -> Sequence[int]:
        """The UIDs of the selected folder from `first_uid` up, ascending (UID SEARCH)."""
        ...

    async def open_for_changes(self, name: str) -> None:
        """Selects read-write (SELECT), for the calls below, which change the server."""
        ...

    async def store_flags(self, uid: int, add: Sequence[str], remove: Sequence[str]) -> None:
        """UID STORE +FLAGS / -FLAGS: only the named flags change, whatever else another client set."""
        ...

    async def move(self, uid: int, target: str) -> int | None:
        """UID MOVE (RFC 6851), or COPY, \\Deleted and UID EXPUNGE where MOVE is missing. The message's UID in
        `target` when the server says it (UIDPLUS COPYUID, RFC 4315), else None."""
        ...

    async def expunge(self, uid: int) -> None:
        """Deletes for good: \\Deleted, then UID EXPUNGE of that UID alone (UIDPLUS)."""
        ...

    async def append(self, folder: str, message: bytes, flags: Sequence[str], date: datetime) -> None:
        """APPEND (RFC 3501 section 6.3.11) of a whole message to `folder`, with these flags and INTERNALDATE."""
        ...

    async def folder_ids(self, names: Sequence[str]) -> dict[str, str]:
        """The server's id of each of these folders that a rename keeps (STATUS MAILBOXID, RFC 8474, or Dovecot's
        STATUS X-GUID), by name; empty when the server offers neither."""
        ...

    async def watch_everywhere(self) -> bool:
        """Asks the server to report, while this session waits, changes in every folder of the account and folders
        made, renamed or deleted (NOTIFY, RFC 5465); False when it cannot, and only the folder waited on is
        watched."""
        ...

    async def wait_for_change(self, folder: str, idle_seconds: float) -> bool:
        """IDLE on `folder` (RFC 2177) until the server reports a change (True) or `idle_seconds` pass (False).
        Servers and NAT drop idle connections, so callers keep `idle_seconds` under 29 minutes."""
        ...


class ImapConnector(Protocol):
    """Opens IMAP sessions: the sync, the write-back jobs, the inbox watches and the Sent copy each open their own."""

    def __call__(self, server: ServerSettings, login: MailLogin) -> AbstractAsyncContextManager[ImapSession]:
        """Opens, logs in, and on exit logs out of an IMAP session. Raises LoginRefused when the server refused
        the credentials, MailServerRejected for every other failure to open."""
        ...
