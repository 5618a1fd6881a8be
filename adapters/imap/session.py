import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime

import aioimaplib

from adapters.imap.connection import close_imap, open_imap
from adapters.imap.fetch_command import LinearFetchCommand
from adapters.imap.responses import (
    FetchItem,
    Line,
    compress_uids,
    copied_uid,
    flag_updates,
    parse_fetch,
    parse_list,
    parse_search,
    parse_select,
)
from adapters.imap.utf7 import quote
from adapters.network import OutboundPolicy
from domain.accounts import ServerSettings
from domain.errors import MailServerRejected
from domain.mailboxes import SyncState, role_for
from domain.ports.mail import ImapSession, MailSession
from domain.remote import FetchedMessage, FlagUpdate, RemoteFolder, SelectedFolder

_NOT_SELECTABLE = {"\\noselect", "\\nonexistent"}
_METADATA = "(UID FLAGS INTERNALDATE RFC822.SIZE{modseq})"
FETCH_BATCH = 500
BODY_BATCH = 200
_CHANGE = re.compile(rb"\b(EXISTS|EXPUNGE|FETCH|VANISHED)\b", re.IGNORECASE)


class AioimaplibSession(ImapSession):
    """An IMAP session on aioimaplib. QRESYNC is enabled before any SELECT (RFC 7162 section 3.2.3),
    or HIGHESTMODSEQ would be missing from the answers."""

    def __init__(self, client: aioimaplib.IMAP4, timeout: float) -> None:
        self._client = client
        self._timeout = timeout
        self._capabilities = frozenset(c.upper() for c in client.protocol.capabilities)
        self._uidnext = 1
        self._lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        client.protocol.conn_lost_cb = self._connection_lost

    def _connection_lost(self, _: Exception | None) -> None:
        """aioimaplib leaves a command waiting on a dead socket until its timeout; fail it at once instead."""
        if not self._lost.done():
            self._lost.set_result(None)

    @property
    def capabilities(self) -> frozenset[str]:
        return self._capabilities

    @property
    def _condstore(self) -> bool:
        return "CONDSTORE" in self._capabilities or "QRESYNC" in self._capabilities

    async def enable_qresync(self) -> None:
        if "QRESYNC" in self._capabilities:
            await self._command("ENABLE", "QRESYNC")

    async def list_folders(self) -> list[RemoteFolder]:
        lines = await self._run(self._client.list('""', "*"), "LIST")
        return [
            RemoteFolder(
                name=folder.name,
                delimiter=folder.delimiter,
                role=role_for(folder.name, folder.delimiter, folder.flags),
                selectable=not _NOT_SELECTABLE & {flag.lower() for flag in folder.flags},
            )
            for folder in parse_list(lines)
        ]

    async def select(self, name: str, known: SyncState | None = None) -> SelectedFolder:
        arguments = [quote(name)]
        if known and known.highest_modseq and "QRESYNC" in self._capabilities:
            arguments.append(f"(QRESYNC ({known.uidvalidity} {known.highest_modseq}))")
        lines = await self._command("EXAMINE", *arguments)
        self._client.protocol.state = aioimaplib.SELECTED  # sent raw for QRESYNC, so aioimaplib did not see it
        report = parse_select(lines)
        self._uidnext = report.uidnext
        return SelectedFolder(
            uidvalidity=report.uidvalidity,
            uidnext=report.uidnext,
            exists=report.exists,
            highest_modseq=report.highest_modseq,
            vanished=report.vanished,
            changed=flag_updates(lines),
        )

    async def fetch_messages(self, first_uid: int, last_uid: int, max_size: int) -> list[FetchedMessage]:
        """In UID sets of at most FETCH_BATCH messages (BODY_BATCH for bodies) whatever the sync's batch size:
        aioimaplib handles the lines of one read recursively, and about 1,000 lines in one read (1,000 metadata
        lines, or 500 small messages at three lines each) exceed Python's recursion limit."""
        modseq = " MODSEQ" if self._condstore else ""
        items: list[FetchItem] = []
        for start in range(first_uid, last_uid + 1, FETCH_BATCH):
            end = min(start + FETCH_BATCH - 1, last_uid)
            items += await self._fetch(f"{start}:{end}", _METADATA.format(modseq=modseq))
        wanted = [item.uid for item in items if (item.size or 0) <= max_size and first_uid <= item.uid <= last_uid]
        bodies: dict[int, bytes] = {}
        for start in range(0, len(wanted), BODY_BATCH):
            for item in await self._fetch(compress_uids(wanted[start : start + BODY_BATCH]), "(UID BODY.PEEK[])"):
                if item.body is not None:
                    bodies[item.uid] = item.body
        return [
            FetchedMessage(
                uid=item.uid,
                flags=item.flags,
                internal_date=item.internal_date,
                size=item.size or 0,
                modseq=item.modseq,
                raw=bodies.get(item.uid),
            )
            for item in items
            if item.flags is not None and item.internal_date is not None and first_uid <= item.uid <= last_uid
        ]

    async def fetch_flags(self, first_uid: int, changed_since: int | None = None) -> list[FlagUpdate]:
        """In UID ranges of FETCH_BATCH up to the selected folder's UIDNEXT: aioimaplib handles each response
        line recursively, and a single answer of thousands of lines exceeds Python's recursion limit."""
        modifier = f" (CHANGEDSINCE {changed_since})" if changed_since and self._condstore else ""
        parts = ("(UID FLAGS MODSEQ)" if self._condstore else "(UID FLAGS)") + modifier
        updates: list[FlagUpdate] = []
        for start in range(first_uid, max(self._uidnext, first_uid + 1), FETCH_BATCH):
            uid_set = f"{start}:{start + FETCH_BATCH - 1}"
            lines = await self._uid_fetch(uid_set, parts)
            updates.extend(u for u in flag_updates(lines) if start <= u.uid < start + FETCH_BATCH)
        return updates

    async def uids(self) -> list[int]:
        return parse_search(await self._run(self._client.uid_search("ALL", charset=None), "UID SEARCH"))

    async def open_for_changes(self, name: str) -> None:
        await self._command("SELECT", quote(name))
        self._client.protocol.state = aioimaplib.SELECTED

    async def store_flags(self, uid: int, add: Sequence[str], remove: Sequence[str]) -> None:
        for sign, flags in (("+", add), ("-", remove)):
            if flags:
                await self._command("STORE", str(uid), f"{sign}FLAGS.SILENT", f"({' '.join(flags)})", prefix="UID")

    async def move(self, uid: int, target: str) -> int | None:
        if "MOVE" in self._capabilities:
            lines = await self._command("MOVE", str(uid), quote(target), prefix="UID")
        else:
            self._require_uidplus()
            lines = await self._command("COPY", str(uid), quote(target), prefix="UID")
            await self.expunge(uid)
        return copied_uid(lines)

    async def expunge(self, uid: int) -> None:
        self._require_uidplus()
        await self._command("STORE", str(uid), "+FLAGS.SILENT", "(\\Deleted)", prefix="UID")
        await self._command("EXPUNGE", str(uid), prefix="UID")

    def _require_uidplus(self) -> None:
        """A plain EXPUNGE removes every \\Deleted message of the folder, other clients' too: refuse it."""
        if "UIDPLUS" not in self._capabilities:
            raise MailServerRejected("imap", "the server cannot expunge one message alone (no UIDPLUS)")

    async def append(self, folder: str, message: bytes, flags: Sequence[str], date: datetime) -> None:
        protocol = self._client.protocol
        await self._run(protocol.append(message, quote(folder), " ".join(flags), date), "APPEND")

    async def wait_for_change(self, folder: str, idle_seconds: float) -> bool:
        if "IDLE" not in self._capabilities:
            await asyncio.sleep(idle_seconds)
            return True
        await self.select(folder)
        idle = await asyncio.wait_for(self._client.idle_start(timeout=idle_seconds), self._timeout)
        push = asyncio.ensure_future(self._client.wait_server_push(idle_seconds + self._timeout))
        try:
            await asyncio.wait({push, self._lost}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not push.done():
                push.cancel()
            if not self._lost.done():
                self._client.idle_done()
                await asyncio.wait_for(idle, self._timeout)
        if self._lost.done():
            raise MailServerRejected("imap", "IDLE failed: connection lost")
        lines = push.result()
        return isinstance(lines, list) and any(_CHANGE.search(bytes(line)) for line in lines)

    async def _fetch(self, uid_set: str, parts: str) -> list[FetchItem]:
        return list(parse_fetch(await self._uid_fetch(uid_set, parts)))

    async def _uid_fetch(self, uid_set: str, parts: str) -> list[Line]:
        protocol = self._client.protocol
        command = LinearFetchCommand(protocol.new_tag(), uid_set, parts, prefix="UID", loop=protocol.loop)
        return await self._run(protocol.execute(command), "UID FETCH")

    async def _command(self, name: str, *arguments: str, prefix: str = "") -> Sequence[Line]:
        protocol = self._client.protocol
        command = aioimaplib.Command(name, protocol.new_tag(), *arguments, prefix=prefix, loop=protocol.loop)
        return await self._run(protocol.execute(command), f"{prefix} {name}".strip())

    async def _run(self, pending: Awaitable[aioimaplib.Response], name: str) -> list[Line]:
        command = asyncio.ensure_future(pending)
        await asyncio.wait({command, self._lost}, timeout=self._timeout, return_when=asyncio.FIRST_COMPLETED)
        if not command.done():
            command.cancel()
            reason = "connection lost" if self._lost.done() else "timed out"
            raise MailServerRejected("imap", f"{name} failed: {reason}")
        try:
            response: aioimaplib.Response = command.result()
        except (TimeoutError, OSError, aioimaplib.AioImapException) as error:
            raise MailServerRejected("imap", f"{name} failed: {type(error).__name__}") from None
        if response.result != "OK":
            text = b" ".join(bytes(line) for line in response.lines[-1:]).decode(errors="replace")
            raise MailServerRejected("imap", f"{name} refused: {text[:200]}")
        lines: list[Line] = response.lines
        return lines


class AioimaplibMailSession(MailSession):
    def __init__(self, policy: OutboundPolicy) -> None:
        self._policy = policy

    @asynccontextmanager
    async def __call__(self, server: ServerSettings, password: str) -> AsyncIterator[ImapSession]:
        client = await open_imap(server, password, self._policy)
        try:
            session = AioimaplibSession(client, self._policy.timeout)
            await session.enable_qresync()
            yield session
        finally:
            await close_imap(client)
