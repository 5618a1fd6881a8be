"""SyncAccount with the real adapters: Dovecot over IMAP (QRESYNC), SQLite or Postgres, the blob folder."""

import asyncio
import imaplib
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from uuid import uuid4

import pytest

from adapters.blobs.local_folder import LocalFolderBlobStore
from adapters.imap.session import AioimaplibConnector, AioimaplibSession
from adapters.imap.utf7 import quote
from adapters.memory.mail import ScriptedImapLoginCheck, ScriptedMailSender, ScriptedMailServers
from adapters.memory.runtime import ManualClock, RecordingJobQueue
from adapters.memory.security import ReversibleCipher
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
from domain.accounts import MailAccount, MailLogin, Security, ServerSettings
from domain.audit import RequestOrigin
from domain.ids import new_id
from domain.ports.mail import ImapSession
from domain.ports.persistence import UnitOfWork
from domain.remote import FetchedMessage
from domain.search import MessageQuery, PageAfter
from domain.sync import AccountSync, SyncPhase
from domain.tenants import Tenant
from tests.conftest import mail_server_settings
from tests.unit import mail_corpus
from tests.unit.fakes import stored_admin

USER = "bob"


@pytest.fixture(scope="module")
def mail() -> dict[str, str]:
    return mail_server_settings()


class CountingSessions:
    """The real IMAP sessions, counting downloaded bodies; `drop_after` closes the socket after that many
    batches, as a network cut would."""

    def __init__(self, policy: OutboundPolicy) -> None:
        self._inner = AioimaplibConnector(policy)
        self.bodies = 0
        self.drop_after: int | None = None

    @asynccontextmanager
    async def __call__(self, server: ServerSettings, login: MailLogin) -> AsyncIterator[ImapSession]:
        async with self._inner(server, login) as session:
            assert isinstance(session, AioimaplibSession)
            original = session.fetch_messages

            async def counting(uids: Sequence[int], max_size: int) -> list[FetchedMessage]:
                if self.drop_after is not None:
                    if self.drop_after == 0:
                        session._client.protocol.transport.close()
                    self.drop_after -= 1
                fetched = await original(uids, max_size)
                self.bodies += sum(f.raw is not None for f in fetched)
                return fetched

            session.fetch_messages = counting  # type: ignore[method-assign]
            yield session


@dataclass
class Rig:
    make_uow: Callable[[], UnitOfWork]
    sessions: CountingSessions
    account: MailAccount
    clock: ManualClock
    cipher: ReversibleCipher
    blobs: LocalFolderBlobStore

    def sync(self, batch_size: int = 500) -> SyncAccount:
        settings = SyncSettings(batch_size=batch_size)
        builder = MessageBuilder(StdlibMessageParser(), self.blobs)
        folder = FolderSync(self.make_uow(), builder, self.clock, settings)
        uow = self.make_uow()
        request_sync = SyncRequester(uow, RecordingJobQueue(), self.clock)
        return SyncAccount(
            uow, self.sessions, MailLogins(uow, self.cipher, self.clock), self.clock, folder, settings, request_sync
        )

    async def run(self, owner: str = "w1", batch_size: int = 500) -> AccountSync:
        return await self.sync(batch_size)(self.account.tenant_id, self.account.id, owner)


@pytest.fixture
async def rig(make_uow: Callable[[], UnitOfWork], mail: dict[str, str], tmp_path: Path) -> AsyncIterator[Rig]:
    cipher, clock = ReversibleCipher(), ManualClock()
    tenant = Tenant(new_id(), f"t{uuid4().hex[:8]}", "T")
    async with make_uow() as uow:
        await uow.tenants.add(tenant)
        await uow.commit()
    login = ServerLogin(
        mail["MAILROOM_TEST_MAIL_HOST"],
        int(mail["MAILROOM_TEST_IMAP_PORT"]),
        Security.NONE,
        f"{USER}@{mail['MAILROOM_TEST_MAIL_DOMAIN']}",
        f"{USER}-password-1",
    )
    servers = ScriptedMailServers()
    verifier = LoginVerifier(ScriptedImapLoginCheck(servers), ScriptedMailSender(servers))
    new = NewMailAccount("Bob", login.username, login, login)
    account = await CreateMailAccount(make_uow(), cipher, clock, verifier, Auditor(RequestOrigin(), clock))(
        await stored_admin(make_uow(), tenant.id), new
    )
    policy = OutboundPolicy(allow_private=True, timeout=60)
    return Rig(make_uow, CountingSessions(policy), account, clock, cipher, LocalFolderBlobStore(tmp_path / "blobs"))


@pytest.fixture
def imap(mail: dict[str, str]) -> Iterator[imaplib.IMAP4]:
    client = imaplib.IMAP4(mail["MAILROOM_TEST_MAIL_HOST"], int(mail["MAILROOM_TEST_IMAP_PORT"]))
    client.login(f"{USER}@{mail['MAILROOM_TEST_MAIL_DOMAIN']}", f"{USER}-password-1")
    yield client
    client.logout()


@pytest.fixture
def fresh_folders(imap: imaplib.IMAP4) -> Iterator[Callable[[str], str]]:
    """Unique folder names for one test, removed afterwards."""
    made: list[str] = []

    def make(label: str) -> str:
        name = f"{label}-{uuid4().hex[:6]}"
        imap.create(quote(name))
        made.append(name)
        return name

    yield make
    for name in made:
        imap.delete(quote(name))


def append(imap: imaplib.IMAP4, folder: str, raw: bytes, flags: str | None = None) -> None:
    typ, _ = imap.append(quote(folder), flags, None, raw)
    assert typ == "OK"


async def stored(rig: Rig, folder: str) -> dict[int, tuple[str, bool, bool]]:
    """uid -> (subject, seen, flagged) of the stored copy of a folder, by UID, read as the API reads it."""
    tenant_id = rig.account.tenant_id
    async with rig.make_uow() as uow:
        boxes = {m.name: m for m in await uow.mailboxes.for_account(tenant_id, rig.account.id)}
        if folder not in boxes:
            return {}
        listed, cursor = [], None
        while True:
            page = await uow.messages.search(
                MessageQuery(tenant_id, mailbox_id=boxes[folder].id), PageAfter(200, cursor)
            )
            listed += page.items
            if (cursor := page.next_cursor) is None:
                break
        messages = [await uow.messages.get(tenant_id, summary.id) for summary in listed]
    by_uid = sorted((m for m in messages if m is not None), key=lambda m: m.uid)
    return {m.uid: (m.subject, m.flags.seen, m.flags.flagged) for m in by_uid}


def msg(subject: str) -> bytes:
    return mail_corpus.plain(Subject=subject.encode(), Message_ID=f"<{subject}.{uuid4().hex}@x>".encode())


async def test_first_sync_then_nothing_new_downloads_nothing(
    rig: Rig, imap: imaplib.IMAP4, fresh_folders: Callable[[str], str]
) -> None:
    work, nested = fresh_folders("Work"), fresh_folders("Work-Ünïcode/Sub")
    append(imap, work, msg("w1"), "(\\Seen)")
    append(imap, work, msg("w2"))
    append(imap, nested, msg("n1"))
    first = await rig.run()
    assert first.phase is SyncPhase.IDLE, first.last_error
    work_stored = await stored(rig, work)
    assert [(s, seen) for s, seen, _ in work_stored.values()] == [("w1", True), ("w2", False)]
    assert [s for s, _, _ in (await stored(rig, nested)).values()] == ["n1"]
    downloaded = rig.sessions.bodies

    again = await rig.run()
    assert again.phase is SyncPhase.IDLE
    assert rig.sessions.bodies == downloaded
    assert await stored(rig, work) == work_stored


async def test_changes_made_by_another_client_show_up_after_the_next_sync(
    rig: Rig, imap: imaplib.IMAP4, fresh_folders: Callable[[str], str]
) -> None:
    work, to_rename, to_recreate = fresh_folders("Work"), fresh_folders("Old"), fresh_folders("Redo")
    for n in range(3):
        append(imap, work, msg(f"w{n}"))
    append(imap, to_rename, msg("moved"))
    append(imap, to_recreate, msg("r1"))
    await rig.run()

    imap.select(quote(work))
    imap.uid("STORE", "1", "+FLAGS", "(\\Seen \\Flagged)")
    imap.uid("STORE", "2", "+FLAGS", "(\\Deleted)")
    imap.expunge()
    imap.close()
    append(imap, work, msg("w3"))
    renamed = f"New-{uuid4().hex[:6]}"
    imap.rename(quote(to_rename), quote(renamed))
    imap.delete(quote(to_recreate))
    imap.create(quote(to_recreate))
    append(imap, to_recreate, msg("r2"))
    downloaded = rig.sessions.bodies

    result = await rig.run()
    imap.delete(quote(renamed))
    assert result.phase is SyncPhase.IDLE, result.last_error
    assert await stored(rig, work) == {1: ("w0", True, True), 3: ("w2", False, False), 4: ("w3", False, False)}
    assert await stored(rig, to_rename) == {}
    assert [s for s, _, _ in (await stored(rig, renamed)).values()] == ["moved"]
    assert [s for s, _, _ in (await stored(rig, to_recreate)).values()] == ["r2"]
    assert rig.sessions.bodies == downloaded + 2, "w3 and r2; the renamed folder's message is not downloaded again"


async def test_a_cut_connection_leaves_no_duplicates_and_the_next_sync_completes(
    rig: Rig, imap: imaplib.IMAP4, fresh_folders: Callable[[str], str]
) -> None:
    bulk = fresh_folders("Bulk")
    for n in range(12):
        append(imap, bulk, msg(f"b{n:02}"))
    rig.sessions.drop_after = 2
    cut = await rig.run(batch_size=4)
    assert cut.phase is SyncPhase.FAILED
    assert 0 < len(await stored(rig, bulk)) < 12

    rig.sessions.drop_after = None
    done = await rig.run(batch_size=4)
    assert done.phase is SyncPhase.IDLE, done.last_error
    assert [s for s, _, _ in (await stored(rig, bulk)).values()] == [f"b{n:02}" for n in range(12)]


async def test_two_syncs_of_one_account_at_once_run_once(
    rig: Rig, imap: imaplib.IMAP4, fresh_folders: Callable[[str], str]
) -> None:
    box = fresh_folders("Both")
    for n in range(5):
        append(imap, box, msg(f"x{n}"))
    first, second = await asyncio.gather(rig.run(owner="worker-a"), rig.run(owner="worker-b"))
    ran = [r for r in (first, second) if r.phase is SyncPhase.IDLE and r.lease_owner is None]
    assert len(ran) == 1
    assert len(await stored(rig, box)) == 5


async def test_a_corpus_of_broken_messages_all_syncs(
    rig: Rig, imap: imaplib.IMAP4, fresh_folders: Callable[[str], str]
) -> None:
    box = fresh_folders("Nasty")
    corpus = [
        mail_corpus.no_charset_8bit_body(),
        mail_corpus.wrong_charset(),
        mail_corpus.unknown_charset(),
        mail_corpus.eight_bit_headers(),
        mail_corpus.encoded_words(),
        mail_corpus.header_injection_subject(),
        mail_corpus.rfc2231_filename(),
        mail_corpus.nested_with_attached_message(),
        mail_corpus.missing_boundary(),
        mail_corpus.html_only(),
        mail_corpus.big_attachment(30),
    ]
    for raw in corpus:
        append(imap, box, raw)
    result = await rig.run()
    assert result.phase is SyncPhase.IDLE, result.last_error
    synced = await stored(rig, box)
    assert len(synced) == len(corpus)
    assert synced[4][0] == "Réunion à 15h"
    assert "\n" not in synced[6][0]
