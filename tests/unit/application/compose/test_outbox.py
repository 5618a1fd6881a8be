"""Compose, queue and deliver on the in-memory fakes: retries, failures, leases, the scheduler and the Sent
folder, with a clock that moves only when told (or when the use case sleeps)."""

import asyncio
import email
from dataclasses import dataclass, field, replace
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from uuid import UUID

import pytest

from adapters.memory.blobs import MemoryBlobStore
from adapters.memory.imap import FakeImapConnector, FakeImapFolder, FakeImapServer
from adapters.memory.mail import ScriptedMailSender
from adapters.memory.runtime import RecordingJobQueue
from adapters.mime.composer import StdlibMessageComposer
from adapters.mime.sanitizer import Nh3HtmlSanitizer
from application.accounts.create import CreateMailAccount
from application.accounts.logins import MailLogins
from application.compose.commands import ComposeRequest, NewAttachment
from application.compose.content import DraftWriter
from application.compose.deliver import DeliverDraft
from application.compose.drafts import CreateDraft, DeleteDraft
from application.compose.outbox import EnqueueDueSends
from application.compose.send import QueueSend
from application.compose.settings import OutboxSettings
from application.jobs import SEND_TASK
from application.messages.read import ShowHtml
from application.sync.request import SyncRequester
from domain.auth import Principal
from domain.drafts import DraftStatus
from domain.errors import Conflict, DeliveryFailed, NotFound, TooLarge
from domain.ids import new_id
from domain.messages import Address, Flags, Message
from domain.ports.mail import MailSender
from tests.unit.fakes import Fakes, new_account, principal

SETTINGS = OutboxSettings(max_attempts=3, retry_base=timedelta(seconds=10), inline_retry_max=timedelta(seconds=60))


SHOW_HTML = ShowHtml(Nh3HtmlSanitizer())


@dataclass
class Outbox:
    fakes: Fakes = field(default_factory=Fakes)
    blobs: MemoryBlobStore = field(default_factory=MemoryBlobStore)
    jobs: RecordingJobQueue = field(default_factory=RecordingJobQueue)
    imap: FakeImapServer = field(default_factory=FakeImapServer)
    settings: OutboxSettings = SETTINGS
    user: Principal = field(default_factory=principal)
    account_id: UUID | None = None
    sender: MailSender | None = None
    """The SMTP adapter; the scripted fake when None."""
    logins: MailLogins | None = None
    """How accounts sign in; their passwords when None."""

    def __post_init__(self) -> None:
        self.imap.folders["Sent"] = FakeImapFolder(special_use=["\\Sent"])
        self.fakes.servers.accept("smtp.example.com", "alice", "smtp-secret")

    @property
    def sent(self) -> list[bytes]:
        return [mail.message for mail in self.fakes.servers.sent]

    async def account(self, **changes: object) -> UUID:
        create = CreateMailAccount(
            self.fakes.uow, self.fakes.cipher, self.fakes.clock, self.fakes.verifier, self.fakes.auditor
        )
        return (await create(self.user, replace(new_account(), **changes))).id  # type: ignore[arg-type]

    async def draft(self, **fields: object) -> UUID:
        self.account_id = self.account_id or await self.account()
        request = ComposeRequest(account_id=self.account_id, to=(Address("Bob", "bob@example.org"),))
        writer = DraftWriter(self.blobs, self.settings.max_message_bytes)
        create = CreateDraft(self.fakes.uow, writer, self.fakes.clock, SHOW_HTML)
        return (await create(self.user, replace(request, **fields))).draft.id  # type: ignore[arg-type]

    def queue_send(self) -> QueueSend:
        composer = StdlibMessageComposer()
        return QueueSend(
            self.fakes.uow, self.blobs, composer, self.jobs, self.fakes.clock, self.settings, self.fakes.auditor
        )

    def deliver(self) -> DeliverDraft:
        return DeliverDraft(
            self.fakes.uow,
            self.sender or ScriptedMailSender(self.fakes.servers),
            FakeImapConnector(self.imap),
            StdlibMessageComposer(),
            self.blobs,
            self.logins or self.fakes.logins,
            self.jobs,
            self.fakes.clock,
            self.settings,
            SyncRequester(self.fakes.uow, self.jobs, self.fakes.clock),
        )

    async def status(self, draft_id: UUID) -> DraftStatus:
        async with self.fakes.uow as uow:
            draft = await uow.drafts.get(self.user.tenant_id, draft_id)
        assert draft is not None
        return draft.status


@pytest.fixture
def outbox() -> Outbox:
    return Outbox()


async def test_a_draft_is_sent_once_and_filed_in_sent_as_seen(outbox: Outbox) -> None:
    draft_id = await outbox.draft(
        subject="Grüße — 会議",
        html="<p>Hallo</p>",
        text="Hallo",
        bcc=(Address("", "boss@example.org"),),
        attachments=(NewAttachment("Bericht März.pdf", "application/pdf", b"%PDF-1.4 data"),),
    )
    queued = await outbox.queue_send()(outbox.user, draft_id)
    assert queued.status is DraftStatus.QUEUED
    assert queued.outgoing is not None
    assert outbox.jobs.jobs == [
        (queued.job_id, SEND_TASK, {"tenant_id": str(outbox.user.tenant_id), "draft_id": str(draft_id)})
    ]

    assert await outbox.deliver()(outbox.user.tenant_id, draft_id, "worker") is DraftStatus.SENT
    assert await outbox.deliver()(outbox.user.tenant_id, draft_id, "worker") is None  # delivered again: no-op
    assert len(outbox.sent) == 1
    mail = outbox.fakes.servers.sent[0]
    assert mail.envelope.recipients == ("bob@example.org", "boss@example.org")
    parsed = email.message_from_bytes(mail.message, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    assert parsed["Subject"] == "Grüße — 会議"
    assert parsed["Message-ID"] == queued.outgoing.message_id
    assert parsed["Bcc"] is None
    assert b"boss@example.org" not in mail.message
    attachment = next(parsed.iter_attachments())
    assert (attachment.get_filename(), attachment.get_content()) == ("Bericht März.pdf", b"%PDF-1.4 data")

    [filed] = list(outbox.imap.folders["Sent"].messages.values())
    assert filed.flags.seen
    assert filed.raw == b"Bcc: boss@example.org\r\n" + mail.message, "the sender's copy alone shows the Bcc"
    assert any(task == "sync_account" for _, task, _ in outbox.jobs.jobs)


async def test_a_temporary_failure_is_retried_after_a_backoff_and_sent_once(outbox: Outbox) -> None:
    outbox.fakes.servers.send_failures = [DeliveryFailed("421 4.3.2 try later", permanent=False)] * 2
    draft_id = await outbox.draft()
    await outbox.queue_send()(outbox.user, draft_id)
    start = outbox.fakes.clock.now()
    assert await outbox.deliver()(outbox.user.tenant_id, draft_id, "worker") is DraftStatus.SENT
    assert outbox.fakes.clock.now() - start == timedelta(seconds=10 + 20)
    async with outbox.fakes.uow as uow:
        draft = await uow.drafts.get(outbox.user.tenant_id, draft_id)
    assert draft is not None
    assert draft.attempts == 3
    assert len(outbox.sent) == 1
    assert draft.last_smtp_reply is not None
    assert draft.last_smtp_reply.startswith("250")


async def test_a_permanent_failure_fails_at_once_with_the_servers_reply(outbox: Outbox) -> None:
    outbox.fakes.servers.send_failures = [DeliveryFailed("550 5.1.1 no such user", permanent=True)]
    draft_id = await outbox.draft()
    await outbox.queue_send()(outbox.user, draft_id)
    assert await outbox.deliver()(outbox.user.tenant_id, draft_id, "worker") is DraftStatus.FAILED
    outbox.fakes.clock.advance(timedelta(days=1))
    assert await EnqueueDueSends(outbox.fakes.uow, outbox.jobs, outbox.fakes.clock)() == 0
    async with outbox.fakes.uow as uow:
        draft = await uow.drafts.get(outbox.user.tenant_id, draft_id)
    assert draft is not None
    assert (draft.attempts, draft.last_smtp_reply) == (1, "550 5.1.1 no such user")
    assert outbox.sent == []


async def test_attempts_run_out_and_the_draft_fails(outbox: Outbox) -> None:
    outbox.fakes.servers.send_failures = [DeliveryFailed("451 busy", permanent=False)] * 5
    draft_id = await outbox.draft()
    await outbox.queue_send()(outbox.user, draft_id)
    assert await outbox.deliver()(outbox.user.tenant_id, draft_id, "worker") is DraftStatus.FAILED
    assert len(outbox.fakes.servers.send_failures) == 2
    assert outbox.sent == []


async def test_a_long_backoff_is_left_to_the_scheduler(outbox: Outbox) -> None:
    outbox.settings = replace(SETTINGS, retry_base=timedelta(minutes=10))
    outbox.fakes.servers.send_failures = [DeliveryFailed("421 later", permanent=False)]
    draft_id = await outbox.draft()
    await outbox.queue_send()(outbox.user, draft_id)
    assert await outbox.deliver()(outbox.user.tenant_id, draft_id, "worker") is DraftStatus.QUEUED
    sweep = EnqueueDueSends(outbox.fakes.uow, outbox.jobs, outbox.fakes.clock)
    outbox.fakes.clock.advance(timedelta(minutes=9))
    assert await sweep() == 0
    outbox.fakes.clock.advance(timedelta(minutes=1))
    assert await sweep() == 1
    assert await outbox.deliver()(outbox.user.tenant_id, draft_id, "worker") is DraftStatus.SENT


async def test_a_worker_that_died_mid_send_leaves_exactly_one_delivery(outbox: Outbox) -> None:
    draft_id = await outbox.draft()
    await outbox.queue_send()(outbox.user, draft_id)
    async with outbox.fakes.uow as uow:  # the dead worker took the lease, then was killed
        assert await uow.drafts.claim(draft_id, "dead", outbox.fakes.clock.now(), SETTINGS.lease_ttl)
        await uow.commit()
    assert await outbox.deliver()(outbox.user.tenant_id, draft_id, "redelivered") is None
    sweep = EnqueueDueSends(outbox.fakes.uow, outbox.jobs, outbox.fakes.clock)
    assert await sweep() == 0
    outbox.fakes.clock.advance(SETTINGS.lease_ttl)
    assert await sweep() == 1
    assert await outbox.deliver()(outbox.user.tenant_id, draft_id, "other") is DraftStatus.SENT
    assert len(outbox.sent) == 1


async def test_two_workers_racing_for_one_draft_send_it_once(outbox: Outbox) -> None:
    draft_id = await outbox.draft()
    await outbox.queue_send()(outbox.user, draft_id)
    results = await asyncio.gather(*(outbox.deliver()(outbox.user.tenant_id, draft_id, f"w{i}") for i in range(3)))
    assert sorted(map(str, results)) == ["None", "None", "sent"]
    assert len(outbox.sent) == 1


async def test_a_scheduled_send_goes_when_its_time_comes_and_can_be_cancelled(outbox: Outbox) -> None:
    later = outbox.fakes.clock.now() + timedelta(hours=1)
    draft_id, cancelled_id = await outbox.draft(), await outbox.draft()
    for each in (draft_id, cancelled_id):
        assert (await outbox.queue_send()(outbox.user, each, send_at=later)).send_at == later
    assert outbox.jobs.jobs == []
    await DeleteDraft(outbox.fakes.uow)(outbox.user, cancelled_id)
    sweep = EnqueueDueSends(outbox.fakes.uow, outbox.jobs, outbox.fakes.clock)
    assert await sweep() == 0
    outbox.fakes.clock.advance(timedelta(hours=1))
    assert await sweep() == 1
    assert outbox.jobs.jobs[0][2]["draft_id"] == str(draft_id)
    assert await outbox.deliver()(outbox.user.tenant_id, draft_id, "w") is DraftStatus.SENT


async def test_the_same_idempotency_key_answers_the_first_result(outbox: Outbox) -> None:
    draft_id = await outbox.draft()
    first = await outbox.queue_send()(outbox.user, draft_id, key="k-1")
    again = await outbox.queue_send()(outbox.user, draft_id, key="k-1")
    assert again.job_id == first.job_id
    assert len(outbox.jobs.jobs) == 1
    with pytest.raises(Conflict):
        await outbox.queue_send()(outbox.user, draft_id, key="k-2")
    with pytest.raises(Conflict):
        await outbox.queue_send()(outbox.user, draft_id)


async def test_a_message_over_the_limit_is_refused_and_stays_a_draft(outbox: Outbox) -> None:
    outbox.settings = replace(SETTINGS, max_message_bytes=2000)
    with pytest.raises(TooLarge):
        await outbox.draft(attachments=(NewAttachment("big.bin", "application/octet-stream", b"x" * 2001),))
    draft_id = await outbox.draft(attachments=(NewAttachment("b.bin", "application/octet-stream", b"x" * 1500),))
    with pytest.raises(TooLarge):  # base64 makes the built message larger than its parts
        await outbox.queue_send()(outbox.user, draft_id)
    assert await outbox.status(draft_id) is DraftStatus.DRAFT
    assert outbox.jobs.jobs == []


async def test_a_server_that_files_sent_mail_itself_gets_no_append(outbox: Outbox) -> None:
    request = ComposeRequest(
        account_id=await outbox.account(email="own@example.com", server_saves_sent=True),
        to=(Address("", "bob@example.org"),),
    )
    writer = DraftWriter(outbox.blobs, SETTINGS.max_message_bytes)
    draft = (await CreateDraft(outbox.fakes.uow, writer, outbox.fakes.clock, SHOW_HTML)(outbox.user, request)).draft
    await outbox.queue_send()(outbox.user, draft.id)
    assert await outbox.deliver()(outbox.user.tenant_id, draft.id, "w") is DraftStatus.SENT
    assert outbox.imap.folders["Sent"].messages == {}


async def test_a_missing_sent_folder_is_reported_on_the_sent_draft(outbox: Outbox) -> None:
    del outbox.imap.folders["Sent"]
    draft_id = await outbox.draft()
    await outbox.queue_send()(outbox.user, draft_id)
    assert await outbox.deliver()(outbox.user.tenant_id, draft_id, "w") is DraftStatus.SENT
    async with outbox.fakes.uow as uow:
        draft = await uow.drafts.get(outbox.user.tenant_id, draft_id)
    assert draft is not None
    assert draft.sent_copy_error == "the account has no Sent folder"


async def test_another_tenants_account_and_drafts_are_not_found(outbox: Outbox) -> None:
    draft_id = await outbox.draft()
    stranger = principal()
    with pytest.raises(NotFound):
        await outbox.queue_send()(stranger, draft_id)
    writer = DraftWriter(outbox.blobs, SETTINGS.max_message_bytes)
    async with outbox.fakes.uow as uow:
        account_id = (await uow.drafts.get(outbox.user.tenant_id, draft_id)).account_id  # type: ignore[union-attr]
    with pytest.raises(NotFound):
        await CreateDraft(outbox.fakes.uow, writer, outbox.fakes.clock, SHOW_HTML)(
            stranger, ComposeRequest(account_id=account_id)
        )


async def test_a_queued_message_whose_blob_is_gone_fails_instead_of_retrying_forever(outbox: Outbox) -> None:
    draft_id = await outbox.draft()
    queued = await outbox.queue_send()(outbox.user, draft_id)
    assert queued.outgoing is not None
    await outbox.blobs.delete(queued.outgoing.blob_key)
    assert await outbox.deliver()(outbox.user.tenant_id, draft_id, "w") is DraftStatus.FAILED
    assert outbox.sent == []


async def test_a_sent_reply_marks_the_original_answered_here_and_on_the_server(outbox: Outbox) -> None:
    outbox.account_id = await outbox.account()
    original = Message(
        id=new_id(),
        tenant_id=outbox.user.tenant_id,
        account_id=outbox.account_id,
        mailbox_id=new_id(),
        uid=7,
        thread_id=new_id(),
        message_id="<lunch@example.net>",
        subject="Lunch?",
        sender=[Address("Zoe", "zoe@example.net")],
        to=[Address("", "alice@example.com")],
        date=None,
        internal_date=outbox.fakes.clock.now(),
        size=100,
        flags=Flags(seen=True),
        raw_blob_key="b" * 64,
    )
    outbox.fakes.uow.store.messages[(original.mailbox_id, original.uid)] = original
    draft_id = await outbox.draft(in_reply_to=original.id, to=None)
    await outbox.queue_send()(outbox.user, draft_id)
    assert await outbox.deliver()(outbox.user.tenant_id, draft_id, "w") is DraftStatus.SENT

    stored = outbox.fakes.uow.store.messages[(original.mailbox_id, original.uid)]
    assert stored.flags == Flags(seen=True, answered=True)
    assert [(task, args) for _, task, args in outbox.jobs.jobs if task == "write_flags"] == [
        ("write_flags", {"tenant_id": str(outbox.user.tenant_id), "message_id": str(original.id), "answered": "true"})
    ]
    assert outbox.fakes.servers.sent[0].envelope.recipients == ("zoe@example.net",)


async def test_a_queued_send_whose_from_is_no_longer_the_accounts_fails_at_delivery_and_sends_nothing(
    outbox: Outbox,
) -> None:
    outbox.account_id = await outbox.account(aliases=("support@example.com",))
    draft_id = await outbox.draft(sender=Address("Support", "support@example.com"))
    await outbox.queue_send()(outbox.user, draft_id)
    stored = outbox.fakes.uow.store.accounts[outbox.account_id]
    outbox.fakes.uow.store.accounts[outbox.account_id] = replace(stored, aliases=())

    assert await outbox.deliver()(outbox.user.tenant_id, draft_id, "worker") is DraftStatus.FAILED
    assert outbox.sent == []
