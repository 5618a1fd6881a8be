"""A scripted IMAP server for tests: folders and messages in memory, without CONDSTORE, so the sync takes its
fallback paths (UID SEARCH for deletions, full FLAGS fetch). It counts downloaded bodies and sessions, can drop the
connection after a number of fetches, and can fail the SELECT of chosen folders."""

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import count
from uuid import uuid4

from domain.accounts import MailLogin, ServerSettings
from domain.errors import LoginRefused, MailServerRejected
from domain.mailboxes import SyncState, role_for
from domain.messages import Flags
from domain.ports.mail import ImapConnector, ImapSession
from domain.remote import FetchedMessage, FlagUpdate, RemoteFolder, SelectedFolder

_UIDVALIDITY = count(1000)
_DELIVERIES = count()


@dataclass
class FakeImapMessage:
    raw: bytes
    flags: Flags
    internal_date: datetime

    def flags_as_imap(self) -> set[str]:
        names = {"seen", "flagged", "answered", "draft", "deleted"}
        return {f"\\{n.title()}" for n in names if getattr(self.flags, n)} | set(self.flags.keywords)


@dataclass
class FakeImapFolder:
    uidvalidity: int = field(default_factory=lambda: next(_UIDVALIDITY))
    uidnext: int = 1
    messages: dict[int, FakeImapMessage] = field(default_factory=dict)
    special_use: list[str] = field(default_factory=list)
    guid: str = field(default_factory=lambda: uuid4().hex)
    """The folder's id on the server, which a rename (moving the object to another name) keeps."""


@dataclass
class FakeImapServer:
    folders: dict[str, FakeImapFolder] = field(default_factory=lambda: {"INBOX": FakeImapFolder()})
    bodies_fetched: int = 0
    fetches_before_drop: int | None = None
    reports_new_uids: bool = True
    deliveries: asyncio.Event = field(default_factory=asyncio.Event)
    failing_folders: dict[str, bool] = field(default_factory=dict)
    """Folders whose SELECT fails: a refusal (False), or a failure that leaves the connection unusable (True)."""
    sessions_opened: int = 0
    notify: bool = True
    reports_folder_ids: bool = True
    """Whether the server offers NOTIFY (RFC 5465): a session that asked for it wakes for a change in any folder."""
    last_changed: str | None = None
    refuses_login: str | None = None
    """The server's answer to every LOGIN while set (a changed password, say)."""
    refuses_connection: MailServerRejected | None = None
    """Raised by every connection while set, before any login (a certificate that does not verify, say)."""
    refused_tokens: set[str] = field(default_factory=set)
    """OAuth2 access tokens it refuses (revoked, or expired by its clock)."""
    logins: list[MailLogin] = field(default_factory=list)

    def deliver(self, folder: str, raw: bytes, flags: Flags | None = None) -> int:
        box = self.folders.setdefault(folder, FakeImapFolder())
        uid, box.uidnext = box.uidnext, box.uidnext + 1
        received = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=next(_DELIVERIES))
        box.messages[uid] = FakeImapMessage(raw, flags or Flags(), received)
        self.last_changed = folder
        self.deliveries.set()
        return uid

    def recreate(self, folder: str) -> None:
        """Delete and create again: same name, new UIDVALIDITY, messages delivered anew."""
        old = self.folders.pop(folder)
        for message in old.messages.values():
            self.deliver(folder, message.raw, message.flags)


class FakeImapSession(ImapSession):
    def __init__(self, server: FakeImapServer) -> None:
        self._server = server
        self._selected: FakeImapFolder | None = None
        self._dropped = False
        self._everywhere = False

    @property
    def reports_vanished(self) -> bool:
        return False

    @property
    def usable(self) -> bool:
        return not self._dropped

    async def list_folders(self) -> list[RemoteFolder]:
        return [
            RemoteFolder(name, "/", role_for(name, "/", folder.special_use), True)
            for name, folder in self._server.folders.items()
        ]

    async def select(self, name: str, known: SyncState | None = None) -> SelectedFolder:
        if name in self._server.failing_folders:
            self._dropped = self._server.failing_folders[name]
            raise MailServerRejected("imap", "EXAMINE failed: timed out" if self._dropped else "EXAMINE refused: NO")
        self._selected = self._server.folders[name]
        return SelectedFolder(self._selected.uidvalidity, self._selected.uidnext, len(self._selected.messages), None)

    async def fetch_messages(self, uids: Sequence[int], max_size: int) -> list[FetchedMessage]:
        if self._server.fetches_before_drop is not None:
            if self._server.fetches_before_drop == 0:
                self._dropped = True
                raise MailServerRejected("imap", "connection lost")
            self._server.fetches_before_drop -= 1
        fetched, wanted = [], set(uids)
        for uid, message in sorted(self._folder().messages.items()):
            if uid in wanted:
                small = len(message.raw) <= max_size
                self._server.bodies_fetched += small
                raw = message.raw if small else None
                fetched.append(FetchedMessage(uid, message.flags, message.internal_date, len(message.raw), None, raw))
        return fetched

    async def fetch_flags(self, first_uid: int, changed_since: int | None = None) -> list[FlagUpdate]:
        return [FlagUpdate(uid, m.flags) for uid, m in sorted(self._folder().messages.items()) if uid >= first_uid]

    async def uids(self, first_uid: int = 1) -> list[int]:
        return sorted(uid for uid in self._folder().messages if uid >= first_uid)

    async def open_for_changes(self, name: str) -> None:
        await self.select(name)

    async def store_flags(self, uid: int, add: Sequence[str], remove: Sequence[str]) -> None:
        message = self._folder().messages.get(uid)
        if message is not None:
            names = {*message.flags_as_imap(), *add} - set(remove)
            message.flags = Flags.from_imap(names)

    async def move(self, uid: int, target: str) -> int | None:
        message = self._folder().messages.pop(uid, None)
        if message is None:
            return None
        new_uid = self._server.deliver(target, message.raw, message.flags)
        return new_uid if self._server.reports_new_uids else None

    async def expunge(self, uid: int) -> None:
        self._folder().messages.pop(uid, None)

    async def append(self, folder: str, message: bytes, flags: Sequence[str], date: datetime) -> None:
        if folder not in self._server.folders:
            raise MailServerRejected("imap", f"NO [TRYCREATE] Mailbox doesn't exist: {folder}")
        self._server.deliver(folder, message, Flags.from_imap(flags))

    async def folder_ids(self, names: Sequence[str]) -> dict[str, str]:
        if not self._server.reports_folder_ids:
            return {}
        return {name: self._server.folders[name].guid for name in names if name in self._server.folders}

    async def watch_everywhere(self) -> bool:
        self._everywhere = self._server.notify
        return self._everywhere

    async def wait_for_change(self, folder: str, idle_seconds: float) -> bool:
        """Wakes for mail delivered to `folder`, or to any folder after `watch_everywhere`."""
        try:
            async with asyncio.timeout(idle_seconds):
                while True:
                    self._server.deliveries.clear()
                    await self._server.deliveries.wait()
                    if self._everywhere or self._server.last_changed == folder:
                        return True
        except TimeoutError:
            return False

    def _folder(self) -> FakeImapFolder:
        if self._selected is None:
            raise MailServerRejected("imap", "no folder selected")
        return self._selected


class FakeImapConnector(ImapConnector):
    def __init__(self, server: FakeImapServer) -> None:
        self._server = server

    @asynccontextmanager
    async def __call__(self, server: ServerSettings, login: MailLogin) -> AsyncIterator[ImapSession]:
        if self._server.refuses_connection is not None:
            raise self._server.refuses_connection
        self._server.logins.append(login)
        if self._server.refuses_login is not None:
            raise LoginRefused("imap", self._server.refuses_login)
        if login.bearer and login.secret in self._server.refused_tokens:
            raise LoginRefused("imap", "AUTHENTICATE failed: the token is not valid")
        self._server.sessions_opened += 1
        yield FakeImapSession(self._server)
