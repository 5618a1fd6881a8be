import asyncio
import re
from bisect import bisect_left
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, TypeVar

import aioimaplib

from adapters.imap.connection import close_imap, open_imap
from adapters.imap.fetch_command import LinearFetchCommand
from adapters.imap.guard import MAX_ANSWER, MAX_LITERAL, ResponseGuard
from adapters.imap.responses import (
    MAX_UID,
    FetchItem,
    Line,
    UnreadableResponse,
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
from domain.accounts import MailLogin, ServerSettings
from domain.errors import MailServerRejected
from domain.mailboxes import SyncState, role_for
from domain.ports.mail import ImapConnector, ImapSession
from domain.remote import FetchedMessage, FlagUpdate, RemoteFolder, SelectedFolder

_NOT_SELECTABLE = {"\\noselect", "\\nonexistent"}
_METADATA = "(UID FLAGS INTERNALDATE RFC822.SIZE{modseq})"
FETCH_BATCH = 500
BODY_BATCH = 200
BODY_SLACK = 1024 * 1024
"""What a set of bodies may hold beyond twice their announced sizes: the FETCH lines around the literals."""
_CHANGE = re.compile(rb"\b(EXISTS|EXPUNGE|FETCH|VANISHED|STATUS|LIST)\b", re.IGNORECASE)
"""What IDLE may report: the selected folder's EXISTS, EXPUNGE, FETCH (flags) and VANISHED, and, after NOTIFY, STATUS
of another folder and LIST of a folder made, renamed or deleted (RFC 5465 section 5)."""
aioimaplib.Commands.setdefault(
    "NOTIFY", aioimaplib.Cmd("NOTIFY", (aioimaplib.AUTH, aioimaplib.SELECTED), aioimaplib.Exec.is_sync)
)
"""aioimaplib refuses (AttributeError) a command its table does not list, and it lists RFC 3501's and a few more;
NOTIFY (RFC 5465 section 3) is valid once authenticated."""
_FOLDER_ID = re.compile(rb"\b(MAILBOXID \(|X-GUID )([A-Za-z0-9_-]{1,255})")
"""RFC 8474 objectid: 1 to 255 characters of letters, digits, '-' and '_'; Dovecot's X-GUID is hexadecimal."""
_NOTIFY_EVENTS = (
    "(selected (MessageNew MessageExpunge FlagChange))",
    "(personal (MessageNew MessageExpunge FlagChange MailboxName))",
)
_Parsed = TypeVar("_Parsed")


class AioimaplibSession(ImapSession):
    """An IMAP session on aioimaplib. QRESYNC is enabled before any SELECT (RFC 7162 section 3.2.3),
    or HIGHESTMODSEQ would be missing from the answers.

    Every command has a timeout, and its answer a size limit (adapters/imap/guard.py). A command that timed out,
    lost its connection or got an answer over its limit leaves the session unusable: the rest of that answer may
    still arrive and be taken for the next one's."""

    def __init__(self, client: aioimaplib.IMAP4, timeout: float) -> None:
        self._client = client
        self._timeout = timeout
        self._capabilities = frozenset(c.upper() for c in client.protocol.capabilities)
        self._no_folder_ids = False
        self._guard: ResponseGuard = client.protocol.guard
        self._broken = False
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
    def usable(self) -> bool:
        return not self._broken and not self._lost.done() and self._guard.refused is None

    async def close(self) -> None:
        """Logs out; an unusable connection is dropped instead, as a LOGOUT on it would wait out the timeout."""
        if self.usable:
            await close_imap(self._client)
        elif (transport := self._client.protocol.transport) is not None:
            transport.abort()

    @property
    def reports_vanished(self) -> bool:
        return "QRESYNC" in self._capabilities

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
        report = _read("EXAMINE", parse_select, lines, known.last_uid if known else 0)
        return SelectedFolder(
            uidvalidity=report.uidvalidity,
            uidnext=report.uidnext,
            exists=report.exists,
            highest_modseq=report.highest_modseq,
            vanished=report.vanished,
            changed=_read("EXAMINE", flag_updates, lines),
        )

    async def fetch_messages(self, uids: Sequence[int], max_size: int) -> list[FetchedMessage]:
        """In UID sets of at most FETCH_BATCH messages (BODY_BATCH for bodies) whatever the sync's batch size, so
        that one answer stays small.

        The bodies of a set may come to no more than their RFC822.SIZEs announced (twice that, for servers that
        count bare LF line endings they send as CRLF, plus BODY_SLACK), nor any one over `max_size`: a server that
        announces small messages and sends big ones is cut off, not buffered."""
        requested = set(uids)
        modseq = " MODSEQ" if self._condstore else ""
        items: dict[int, FetchItem] = {}
        for start in range(0, len(uids), FETCH_BATCH):
            for item in await self._fetch(uids[start : start + FETCH_BATCH], _METADATA.format(modseq=modseq)):
                if item.uid in requested and item.flags is not None and item.internal_date is not None:
                    items.setdefault(item.uid, item)
        wanted = [item for _, item in sorted(items.items()) if (item.size or 0) <= max_size]
        bodies: dict[int, bytes] = {}
        for start in range(0, len(wanted), BODY_BATCH):
            batch = wanted[start : start + BODY_BATCH]
            budget = max(max_size, 2 * sum(item.size or 0 for item in batch)) + BODY_SLACK
            for item in await self._fetch([item.uid for item in batch], "(UID BODY.PEEK[])", budget, max_size):
                if item.body is not None and item.uid in items:
                    bodies.setdefault(item.uid, item.body)
        return [
            FetchedMessage(
                uid=item.uid,
                flags=item.flags,
                internal_date=item.internal_date,
                size=item.size or 0,
                modseq=item.modseq,
                raw=bodies.get(item.uid),
            )
            for _, item in sorted(items.items())
            if item.flags is not None and item.internal_date is not None
        ]

    async def fetch_flags(self, first_uid: int, changed_since: int | None = None) -> list[FlagUpdate]:
        """Of the UIDs a UID SEARCH finds (with CONDSTORE only those whose mod-sequence grew past `changed_since`,
        RFC 7162 section 3.1.5), in sets of FETCH_BATCH. Ranges counted up to UIDNEXT would cost one command per
        FETCH_BATCH possible UIDs, which a server announcing UIDNEXT 4294967295 makes millions."""
        criteria = ["UID", f"{first_uid}:*"] if first_uid > 1 else []
        if changed_since and self._condstore:
            criteria += ["MODSEQ", str(changed_since + 1)]
        found = await self._search(*(criteria or ["ALL"]))
        found = found[bisect_left(found, first_uid) :]
        parts = "(UID FLAGS MODSEQ)" if self._condstore else "(UID FLAGS)"
        updates: list[FlagUpdate] = []
        for start in range(0, len(found), FETCH_BATCH):
            batch = found[start : start + FETCH_BATCH]
            wanted = set(batch)
            lines = await self._uid_fetch(compress_uids(batch), parts)
            updates.extend(update for update in _read("UID FETCH", flag_updates, lines) if update.uid in wanted)
        return updates

    async def uids(self, first_uid: int = 1) -> Sequence[int]:
        """`UID SEARCH UID n:*` also matches the highest UID when it is below n (RFC 3501 section 6.4.8: `n:*`
        is a range between n and the highest UID, in either order): filtered out."""
        if first_uid > MAX_UID:
            return []
        found = await self._search(*(["UID", f"{first_uid}:*"] if first_uid > 1 else ["ALL"]))
        return found[bisect_left(found, first_uid) :]

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

    async def folder_ids(self, names: Sequence[str]) -> dict[str, str]:
        """STATUS (MAILBOXID) where the server has OBJECTID (RFC 8474 section 4), else STATUS (X-GUID), which
        Dovecot answers without announcing it. A folder the server refuses STATUS for is left out; a server that
        answers none is not asked again on this session."""
        item = "MAILBOXID" if "OBJECTID" in self._capabilities else "X-GUID"
        if self._no_folder_ids:
            return {}
        found: dict[str, str] = {}
        refused = 0
        for name in names:
            try:
                lines = await self._command("STATUS", quote(name), f"({item})")
            except MailServerRejected:
                if not self.usable:
                    break
                refused += 1
                continue
            for line in lines:
                if (match := _FOLDER_ID.search(bytes(line))) is not None:
                    found[name] = match.group(2).decode("ascii")
        if not found and refused:
            self._no_folder_ids = True
        return found

    async def watch_everywhere(self) -> bool:
        """NOTIFY SET for the selected folder and every folder of the personal namespace (RFC 5465 section 6):
        their changes then arrive as STATUS and LIST while the session IDLEs on one folder."""
        if "NOTIFY" not in self._capabilities or "IDLE" not in self._capabilities:
            return False
        await self._command("NOTIFY", "SET", *_NOTIFY_EVENTS)
        return True

    async def wait_for_change(self, folder: str, idle_seconds: float) -> bool:
        if "IDLE" not in self._capabilities:
            await asyncio.sleep(idle_seconds)
            return True
        await self.select(folder)
        self._guard.expect()
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
            raise MailServerRejected("imap", f"IDLE failed: {self._guard.refused or 'connection lost'}")
        lines = push.result()
        return isinstance(lines, list) and any(_CHANGE.search(bytes(line)) for line in lines)

    async def _search(self, *criteria: str) -> Sequence[int]:
        lines = await self._run(self._client.uid_search(*criteria, charset=None), "UID SEARCH")
        return _read("UID SEARCH", parse_search, lines)

    async def _fetch(
        self, uids: Sequence[int], parts: str, answer_bytes: int = MAX_ANSWER, literal_bytes: int = MAX_LITERAL
    ) -> list[FetchItem]:
        if not uids:
            return []
        lines = await self._uid_fetch(compress_uids(uids), parts, answer_bytes, literal_bytes)
        return _read("UID FETCH", lambda found: list(parse_fetch(found)), lines)

    async def _uid_fetch(
        self, uid_set: str, parts: str, answer_bytes: int = MAX_ANSWER, literal_bytes: int = MAX_LITERAL
    ) -> list[Line]:
        protocol = self._client.protocol
        command = LinearFetchCommand(protocol.new_tag(), uid_set, parts, prefix="UID", loop=protocol.loop)
        return await self._run(protocol.execute(command), "UID FETCH", answer_bytes, literal_bytes)

    async def _command(self, name: str, *arguments: str, prefix: str = "") -> Sequence[Line]:
        protocol = self._client.protocol
        command = aioimaplib.Command(name, protocol.new_tag(), *arguments, prefix=prefix, loop=protocol.loop)
        return await self._run(protocol.execute(command), f"{prefix} {name}".strip())

    async def _run(
        self,
        pending: Coroutine[Any, Any, aioimaplib.Response],
        name: str,
        answer_bytes: int = MAX_ANSWER,
        literal_bytes: int = MAX_LITERAL,
    ) -> list[Line]:
        if not self.usable:
            pending.close()
            raise MailServerRejected("imap", f"{name} not sent: the connection failed before")
        self._guard.expect(answer_bytes, literal_bytes)
        command = asyncio.ensure_future(pending)
        await asyncio.wait({command, self._lost}, timeout=self._timeout, return_when=asyncio.FIRST_COMPLETED)
        if not command.done():
            command.cancel()
            self._broken = True
            reason = self._guard.refused or ("connection lost" if self._lost.done() else "timed out")
            raise MailServerRejected("imap", f"{name} failed: {reason}")
        try:
            response: aioimaplib.Response = command.result()
        except (TimeoutError, OSError, aioimaplib.AioImapException) as error:
            self._broken = True
            raise MailServerRejected("imap", f"{name} failed: {self._guard.refused or type(error).__name__}") from None
        if response.result != "OK":
            text = b" ".join(bytes(line) for line in response.lines[-1:]).decode(errors="replace")
            raise MailServerRejected("imap", f"{name} refused: {text[:200]}")
        lines: list[Line] = response.lines
        return lines


def _read(name: str, parse: Callable[..., _Parsed], *arguments: Any) -> _Parsed:
    try:
        return parse(*arguments)
    except UnreadableResponse as error:
        raise MailServerRejected("imap", f"{name} answer unreadable: {error}") from None


class AioimaplibConnector(ImapConnector):
    def __init__(self, policy: OutboundPolicy) -> None:
        self._policy = policy

    @asynccontextmanager
    async def __call__(self, server: ServerSettings, login: MailLogin) -> AsyncIterator[ImapSession]:
        client = await open_imap(server, login, self._policy)
        session = AioimaplibSession(client, self._policy.timeout)
        try:
            await session.enable_qresync()
            yield session
        finally:
            await session.close()
