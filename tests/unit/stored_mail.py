"""Mail as the use cases find it: accounts whose folders and messages were synced from a fake IMAP server into
the in-memory store. The starting point of the tests of what a client does with stored mail."""

import email
from dataclasses import dataclass, field
from email import policy

from adapters.memory.blobs import MemoryBlobStore
from adapters.memory.imap import FakeImapConnector, FakeImapServer
from adapters.memory.runtime import RecordingJobQueue
from adapters.mime.parser import StdlibMessageParser
from application.accounts.create import CreateMailAccount
from application.sync.folder import FolderSync
from application.sync.messages import MessageBuilder
from application.sync.request import SyncRequester
from application.sync.settings import SyncSettings
from application.sync.sync_account import SyncAccount
from domain.accounts import MailAccount
from domain.auth import Principal
from domain.mailboxes import Mailbox
from domain.messages import Message
from domain.sync import AccountSync, SyncPhase
from tests.unit.fakes import Fakes, new_account, principal
from tests.unit.mail_corpus import plain


def mail(subject: str, **headers: bytes) -> bytes:
    """A plain message whose Message-ID is made of its subject."""
    return plain(Subject=subject.encode(), Message_ID=f"<{subject}@example.com>".encode(), **headers)


@dataclass
class StoredMail:
    """`user` owns the accounts made by `account()`; `jobs` records the jobs the use cases under test queue (the
    sync that fills the store has a queue of its own)."""

    fakes: Fakes = field(default_factory=Fakes)
    server: FakeImapServer = field(default_factory=FakeImapServer)
    blobs: MemoryBlobStore = field(default_factory=MemoryBlobStore)
    jobs: RecordingJobQueue = field(default_factory=RecordingJobQueue)
    user: Principal = field(default_factory=principal)
    settings: SyncSettings = field(default_factory=SyncSettings)

    @property
    def imap(self) -> FakeImapConnector:
        """Sessions on this world's IMAP server, for the use cases that change it."""
        return FakeImapConnector(self.server)

    async def account(self, email_address: str = "alice@example.com", owner: Principal | None = None) -> MailAccount:
        f = self.fakes
        create = CreateMailAccount(f.uow, f.cipher, f.clock, f.verifier, f.auditor)
        return await create(owner or self.user, new_account(email_address))

    async def synced_account(
        self,
        email_address: str = "alice@example.com",
        owner: Principal | None = None,
        server: FakeImapServer | None = None,
    ) -> MailAccount:
        """A new account, synced from `server` (this world's server by default)."""
        account = await self.account(email_address, owner)
        await self.sync(account, server)
        return account

    async def sync(self, account: MailAccount, server: FakeImapServer | None = None) -> AccountSync:
        f = self.fakes
        builder = MessageBuilder(StdlibMessageParser(), self.blobs)
        folders = FolderSync(f.uow, builder, f.clock, self.settings)
        imap = FakeImapConnector(server or self.server)
        request_sync = SyncRequester(f.uow, RecordingJobQueue(), f.clock)
        sync = SyncAccount(f.uow, imap, f.logins, f.clock, folders, self.settings, request_sync)
        result = await sync(account.tenant_id, account.id, "worker")
        assert result.phase is SyncPhase.IDLE, result.last_error
        return result

    def folder(self, account: MailAccount, name: str) -> Mailbox:
        [found] = [m for m in self.fakes.uow.store.mailboxes.values() if (m.account_id, m.name) == (account.id, name)]
        return found

    def message(self, account: MailAccount, subject: str) -> Message:
        """The stored message of `account` with this subject."""
        [found] = [m for m in self.stored(account) if m.subject == subject]
        return found

    def stored(self, account: MailAccount) -> list[Message]:
        return [m for m in self.fakes.uow.store.messages.values() if m.account_id == account.id]

    def subjects(self, account: MailAccount, folder: str) -> list[str]:
        """The subjects stored in one of the account's folders, by UID."""
        box = self.folder(account, folder)
        return [m.subject for m in sorted(self.stored(account), key=lambda m: m.uid) if m.mailbox_id == box.id]

    def on_server(self, folder: str, server: FakeImapServer | None = None) -> list[str]:
        """The subjects in a folder of the IMAP server, by UID."""
        messages = (server or self.server).folders[folder].messages
        return [
            str(email.message_from_bytes(m.raw, policy=policy.default)["Subject"]) for _, m in sorted(messages.items())
        ]

    def job_arguments(self, task: str) -> list[dict[str, str]]:
        return [arguments for _, name, arguments in self.jobs.jobs if name == task]


def stranger() -> Principal:
    """A user of another tenant."""
    return principal()
