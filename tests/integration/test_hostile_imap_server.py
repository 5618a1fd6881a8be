"""A hostile IMAP server on loopback plays one trick per test against the real IMAP adapter and the sync.

Each trick sits in the folder "Trap", listed before INBOX: the sync must mark that folder failed with a clear error,
still sync INBOX (on a new connection when the trick broke the old one), finish in seconds and hold little memory.
"""

import asyncio
import re
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest

from adapters.imap.session import AioimaplibConnector
from adapters.memory.blobs import MemoryBlobStore
from adapters.memory.mail import ScriptedImapLoginCheck, ScriptedMailSender, ScriptedMailServers
from adapters.memory.runtime import ManualClock, RecordingJobQueue
from adapters.memory.security import ReversibleCipher
from adapters.memory.unit_of_work import MemoryUnitOfWork
from adapters.mime.parser import StdlibMessageParser
from adapters.network import OutboundPolicy
from application.accounts.commands import NewMailAccount, ServerLogin
from application.accounts.create import CreateMailAccount
from application.accounts.logins import MailLogins
from application.accounts.verification import LoginVerifier
from application.audit import Auditor
from application.sync.folder import FolderSync
from application.sync.messages import MessageBuilder
from application.sync.request import SyncRequester
from application.sync.settings import SyncSettings
from application.sync.sync_account import SyncAccount
from domain.accounts import MailAccount, Security
from domain.audit import RequestOrigin
from domain.auth import Principal
from domain.ids import new_id
from domain.sync import AccountSync, SyncPhase
from domain.tenants import Role
from tests.unit.mail_corpus import plain

MAX_MESSAGE_BYTES = 1024 * 1024
COMMAND_TIMEOUT = 1.0
MB = 1024 * 1024

Trick = Callable[["Reply", str, str], Awaitable[bool]]
"""Given the reply channel, the tag and the command (`UID FETCH 1:5 (UID BODY.PEEK[])`), answers it and returns
True, or returns False to let the server answer as an honest one would."""


def mail(subject: str) -> bytes:
    return plain(Subject=subject.encode(), Message_ID=f"<{subject}@example.com>".encode())


@dataclass
class Folder:
    messages: dict[int, bytes] = field(default_factory=dict)
    uidvalidity: int = 7
    uidnext: int | None = None
    highest_modseq: int = 10
    trick: Trick | None = None


class Reply:
    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer

    async def send(self, *lines: bytes) -> None:
        self.writer.write(b"".join(line + b"\r\n" for line in lines))
        await self.writer.drain()

    async def stream(self, chunk: bytes, total: int) -> None:
        """`chunk` again and again, up to `total` bytes, then silence: a server that never ends its answer."""
        sent = 0
        while sent < total:
            self.writer.write(chunk)
            await self.writer.drain()
            sent += len(chunk)
        await asyncio.Event().wait()


class HostileImapServer:
    """Just enough IMAP4rev1 (RFC 3501): greeting, CAPABILITY, LOGIN, LIST, ENABLE, EXAMINE (with QRESYNC),
    UID SEARCH, UID FETCH, LOGOUT. A folder's `trick` may answer any command itself."""

    def __init__(self, folders: dict[str, Folder], *, qresync: bool = False) -> None:
        self.folders = folders
        self.capabilities = "IMAP4rev1 ENABLE CONDSTORE QRESYNC" if qresync else "IMAP4rev1"
        self.commands: list[str] = []
        self.connections = 0
        self.port = 0
        self._tasks: set[asyncio.Task[None]] = set()

    @asynccontextmanager
    async def running(self) -> AsyncIterator["HostileImapServer"]:
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        try:
            yield self
        finally:
            server.close()
            for task in list(self._tasks):
                task.cancel()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        reply, selected = Reply(writer), None
        try:
            await reply.send(b"* OK hostile IMAP4rev1 ready")
            while line := await reader.readline():
                tag, _, command = line.decode().rstrip("\r\n").partition(" ")
                self.commands.append(command)
                name = command.split(" ", 1)[0].upper()
                if name in ("EXAMINE", "SELECT"):
                    selected = self.folders.get(command.split('"')[1])
                if selected is not None and selected.trick is not None and await selected.trick(reply, tag, command):
                    continue
                if not await self._answer(reply, tag, command, selected):
                    break
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _answer(self, reply: Reply, tag: str, command: str, folder: Folder | None) -> bool:
        name, _, arguments = command.partition(" ")
        match name.upper(), folder:
            case "CAPABILITY", _:
                await reply.send(f"* CAPABILITY {self.capabilities}".encode(), f"{tag} OK done".encode())
            case "LOGIN" | "NOOP", _:
                await reply.send(f"{tag} OK done".encode())
            case "ENABLE", _:
                await reply.send(b"* ENABLED QRESYNC", f"{tag} OK done".encode())
            case "LIST", _:
                await reply.send(*(f'* LIST () "/" "{n}"'.encode() for n in self.folders), f"{tag} OK done".encode())
            case "EXAMINE" | "SELECT", Folder() as selected:
                await reply.send(*examine_lines(selected, self.capabilities), f"{tag} OK [READ-ONLY] done".encode())
            case "UID", Folder() as selected if arguments.upper().startswith("SEARCH"):
                first = int(m[1]) if (m := re.search(r"UID (\d+):\*", arguments)) else 1
                found = " ".join(str(uid) for uid in sorted(selected.messages) if uid >= first)
                await reply.send(f"* SEARCH {found}".rstrip().encode(), f"{tag} OK done".encode())
            case "UID", Folder() as selected if arguments.upper().startswith("FETCH"):
                _, uid_set, items = arguments.split(" ", 2)
                await reply.send(*fetch_lines(selected, uid_set, items), f"{tag} OK done".encode())
            case "LOGOUT", _:
                await reply.send(b"* BYE", f"{tag} OK done".encode())
                return False
            case _:
                await reply.send(f"{tag} BAD not here".encode())
        return True


def examine_lines(folder: Folder, capabilities: str) -> list[bytes]:
    uidnext = folder.uidnext if folder.uidnext is not None else max(folder.messages, default=0) + 1
    lines = [
        f"* {len(folder.messages)} EXISTS".encode(),
        f"* OK [UIDVALIDITY {folder.uidvalidity}] UIDs valid".encode(),
        f"* OK [UIDNEXT {uidnext}] Predicted next UID".encode(),
    ]
    if "QRESYNC" in capabilities:
        lines.append(f"* OK [HIGHESTMODSEQ {folder.highest_modseq}] Highest".encode())
    return lines


def in_uid_set(uid: int, uid_set: str) -> bool:
    for part in uid_set.split(","):
        first, _, last = part.partition(":")
        low, high = sorted((int(first), int(last or first)))
        if low <= uid <= high:
            return True
    return False


def fetch_lines(folder: Folder, uid_set: str, items: str) -> list[bytes]:
    lines = []
    for number, (uid, raw) in enumerate(sorted(folder.messages.items()), start=1):
        if not in_uid_set(uid, uid_set.replace("*", str(uid))):
            continue
        if "BODY.PEEK[]" in items:
            lines.append(b"* %d FETCH (UID %d BODY[] {%d}\r\n" % (number, uid, len(raw)) + raw + b")")
        else:
            modseq = f" MODSEQ ({folder.highest_modseq})" if "MODSEQ" in items else ""
            lines.append(
                f'* {number} FETCH (UID {uid} FLAGS () INTERNALDATE "01-Jan-2026 00:00:00 +0000" '
                f"RFC822.SIZE {len(raw)}{modseq})".encode()
            )
    return lines


@dataclass
class Outcome:
    sync: AccountSync
    stored: dict[str, list[str]]
    seconds: float
    peak_bytes: int


class Rig:
    """The sync on in-memory storage, through the real IMAP adapter."""

    def __init__(self) -> None:
        self.uow, self.cipher, self.clock, self.blobs = (
            MemoryUnitOfWork(),
            ReversibleCipher(),
            ManualClock(),
            MemoryBlobStore(),
        )
        self.settings = SyncSettings(batch_size=500, max_message_bytes=MAX_MESSAGE_BYTES)
        self.account: MailAccount | None = None

    async def sync(self, server: HostileImapServer) -> Outcome:
        if self.account is None:
            login = ServerLogin("127.0.0.1", server.port, Security.NONE, "alice", "secret")
            verifier = LoginVerifier(
                ScriptedImapLoginCheck(ScriptedMailServers()), ScriptedMailSender(ScriptedMailServers())
            )
            create = CreateMailAccount(
                self.uow, self.cipher, self.clock, verifier, Auditor(RequestOrigin(), self.clock)
            )
            owner = Principal(new_id(), new_id(), Role.ADMIN)  # the in-memory store: no owner row needed
            self.account = await create(owner, NewMailAccount("Alice", "alice@example.com", login, login))
        builder = MessageBuilder(StdlibMessageParser(), self.blobs)
        folder = FolderSync(self.uow, builder, self.clock, self.settings)
        sessions = AioimaplibConnector(OutboundPolicy(allow_private=True, timeout=COMMAND_TIMEOUT))
        request_sync = SyncRequester(self.uow, RecordingJobQueue(), self.clock)
        sync = SyncAccount(
            self.uow,
            sessions,
            MailLogins(self.uow, self.cipher, self.clock),
            self.clock,
            folder,
            self.settings,
            request_sync,
        )
        tracemalloc.start()
        started = time.monotonic()
        try:
            result = await asyncio.wait_for(sync(self.account.tenant_id, self.account.id, "worker"), 30)
        finally:
            seconds = time.monotonic() - started
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        return Outcome(result, self.stored(), seconds, peak)

    def stored(self) -> dict[str, list[str]]:
        store = self.uow.store
        names = {box.id: box.name for box in store.mailboxes.values()}
        found: dict[str, list[str]] = {name: [] for name in names.values()}
        for (box_id, _), message in sorted(store.messages.items(), key=lambda item: item[0][1]):
            found[names[box_id]].append(message.subject)
        return found


async def sync_with_trap(trap: Folder, *, qresync: bool = False) -> Outcome:
    server = HostileImapServer({"Trap": trap, "INBOX": Folder({1: mail("welcome")})}, qresync=qresync)
    async with server.running():
        return await Rig().sync(server)


def assert_trap_failed_and_inbox_synced(outcome: Outcome, reason: str) -> None:
    assert outcome.sync.phase is SyncPhase.FAILED
    assert outcome.sync.last_error is not None
    assert '"Trap"' in outcome.sync.last_error
    assert reason in outcome.sync.last_error
    assert outcome.stored["INBOX"] == ["welcome"], "the other folders are still synced"
    assert outcome.seconds < 20


async def test_a_uidnext_of_4294967295_costs_a_fetch_per_message_the_server_really_has() -> None:
    """8.6 million empty batches, each one a FETCH and a commit, before the fix."""
    trap = Folder({1: mail("first"), 4_294_967_294: mail("last")}, uidnext=4_294_967_295)
    server = HostileImapServer({"Trap": trap, "INBOX": Folder({1: mail("welcome")})})
    rig = Rig()
    async with server.running():
        first = await rig.sync(server)
        fetches_of_first_sync = sum(c.startswith("UID FETCH") for c in server.commands)
        server.commands.clear()
        again = await rig.sync(server)
    assert first.sync.phase is SyncPhase.IDLE, first.sync.last_error
    assert first.stored == {"Trap": ["first", "last"], "INBOX": ["welcome"]}
    assert fetches_of_first_sync <= 4, "metadata and bodies of each folder"
    assert again.sync.phase is SyncPhase.IDLE, again.sync.last_error
    assert sum(c.startswith("UID FETCH") for c in server.commands) <= 2, "the flags of each folder"
    assert first.seconds + again.seconds < 20


async def test_uidvalidity_0_fails_that_folder_only() -> None:
    outcome = await sync_with_trap(Folder({1: mail("trapped")}, uidvalidity=0))
    assert_trap_failed_and_inbox_synced(outcome, "UIDVALIDITY")
    assert outcome.stored["Trap"] == []


@pytest.mark.parametrize("answer", ["1 99999999999", "0 1", "1 " + "9" * 5000])
async def test_uids_out_of_range_fail_that_folder_only(answer: str) -> None:
    async def search(reply: Reply, tag: str, command: str) -> bool:
        if not command.startswith("UID SEARCH"):
            return False
        await reply.send(f"* SEARCH {answer}".encode(), f"{tag} OK done".encode())
        return True

    outcome = await sync_with_trap(Folder({1: mail("trapped")}, trick=search))
    assert_trap_failed_and_inbox_synced(outcome, "UID")


async def test_a_literal_announced_larger_than_the_size_limit_is_refused_before_it_is_read() -> None:
    """RFC822.SIZE says 100 bytes, then the body comes as a 2 GB literal (64 MB of it actually sent)."""

    async def body(reply: Reply, tag: str, command: str) -> bool:
        if "BODY.PEEK[]" not in command:
            return False
        await reply.send(b"* 1 FETCH (UID 1 BODY[] {2000000000}")
        await reply.stream(b"x" * 65536, 64 * MB)
        return True

    outcome = await sync_with_trap(Folder({1: mail("trapped")}, trick=body))
    assert_trap_failed_and_inbox_synced(outcome, "literal")
    assert outcome.peak_bytes < 16 * MB


async def test_literals_larger_than_their_announced_sizes_are_refused_past_the_sizes() -> None:
    """Each literal stays under the size limit, but together they are far over what RFC822.SIZE announced."""
    messages = {uid: mail(f"m{uid}") for uid in range(1, 41)}

    async def bodies(reply: Reply, tag: str, command: str) -> bool:
        if "BODY.PEEK[]" not in command:
            return False
        big = b"x" * (MAX_MESSAGE_BYTES - 1000)
        for uid in messages:
            await reply.send(b"* %d FETCH (UID %d BODY[] {%d}\r\n" % (uid, uid, len(big)) + big + b")")
        await reply.send(f"{tag} OK done".encode())
        return True

    outcome = await sync_with_trap(Folder(messages, trick=bodies))
    assert_trap_failed_and_inbox_synced(outcome, "literal")
    assert outcome.peak_bytes < 16 * MB


async def test_a_literal_of_99999999999_bytes_in_a_metadata_answer_is_refused() -> None:
    async def metadata(reply: Reply, tag: str, command: str) -> bool:
        if not command.startswith("UID FETCH") or "BODY" in command:
            return False
        await reply.send(b"* 1 FETCH (UID 1 FLAGS {99999999999}")
        await reply.stream(b"x" * 65536, 64 * MB)
        return True

    outcome = await sync_with_trap(Folder({1: mail("trapped")}, trick=metadata))
    assert_trap_failed_and_inbox_synced(outcome, "literal")
    assert outcome.peak_bytes < 16 * MB


@pytest.mark.parametrize(
    "flood",
    [b"* 1 FETCH (FLAGS ())\r\n" * 3000, b"* OK " + b"x" * 100_000 + b"\r\n", b"x" * 65536],
    ids=["short-lines", "long-lines", "one-endless-line"],
)
async def test_an_endless_answer_to_examine_is_cut(flood: bytes) -> None:
    async def endless(reply: Reply, tag: str, command: str) -> bool:
        if not command.startswith("EXAMINE"):
            return False
        await reply.send(b"* 1 EXISTS")
        await reply.stream(flood, 100 * MB)
        return True

    outcome = await sync_with_trap(Folder({1: mail("trapped")}, trick=endless))
    assert_trap_failed_and_inbox_synced(outcome, "EXAMINE")
    assert outcome.peak_bytes < 48 * MB


async def test_an_answer_that_never_ends_times_out() -> None:
    async def silent(reply: Reply, tag: str, command: str) -> bool:
        if not command.startswith("UID FETCH"):
            return False
        await reply.send(b'* 1 FETCH (UID 1 FLAGS () INTERNALDATE "01-Jan-2026 00:00:00 +0000"')
        await asyncio.Event().wait()
        return True

    outcome = await sync_with_trap(Folder({1: mail("trapped")}, trick=silent))
    assert_trap_failed_and_inbox_synced(outcome, "timed out")


async def test_an_unreadable_internaldate_fails_that_folder_only() -> None:
    async def dates(reply: Reply, tag: str, command: str) -> bool:
        if not command.startswith("UID FETCH") or "BODY" in command:
            return False
        await reply.send(b'* 1 FETCH (UID 1 FLAGS () INTERNALDATE "yesterday" RFC822.SIZE 5)', f"{tag} OK".encode())
        return True

    outcome = await sync_with_trap(Folder({1: mail("trapped")}, trick=dates))
    assert_trap_failed_and_inbox_synced(outcome, "INTERNALDATE")


async def test_a_vanished_report_of_every_possible_uid_is_not_expanded() -> None:
    """QRESYNC's VANISHED (EARLIER) 1:4294967295 would be four billion UIDs in memory: the sync compares the UIDs
    the server has with the stored ones instead."""
    trap = Folder({1: mail("kept"), 4_294_967_294: mail("gone")})
    server = HostileImapServer({"Trap": trap, "INBOX": Folder({1: mail("welcome")})}, qresync=True)
    rig = Rig()
    async with server.running():
        first = await rig.sync(server)
        del trap.messages[4_294_967_294]
        trap.highest_modseq += 1

        async def vanished(reply: Reply, tag: str, command: str) -> bool:
            if not command.startswith("EXAMINE"):
                return False
            lines = [b"* VANISHED (EARLIER) 1:4294967295", *examine_lines(trap, server.capabilities)]
            await reply.send(*lines, f"{tag} OK [READ-ONLY] done".encode())
            return True

        trap.trick = vanished
        again = await rig.sync(server)
    assert first.sync.phase is SyncPhase.IDLE, first.sync.last_error
    assert first.stored == {"Trap": ["kept", "gone"], "INBOX": ["welcome"]}
    assert again.sync.phase is SyncPhase.IDLE, again.sync.last_error
    assert again.stored == {"Trap": ["kept"], "INBOX": ["welcome"]}
    assert again.peak_bytes < 16 * MB
