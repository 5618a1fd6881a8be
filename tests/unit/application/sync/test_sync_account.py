"""The sync rules on the fakes: first sync, nothing-new re-syncs, changes, renames, UIDVALIDITY, cuts, leases."""

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace

import pytest

from adapters.memory.blobs import MemoryBlobStore
from adapters.memory.imap import FakeImapConnector, FakeImapServer, FakeImapSession
from adapters.memory.runtime import RecordingJobQueue
from adapters.mime.parser import StdlibMessageParser
from application.accounts.create import CreateMailAccount
from application.sync.folder import FolderSync
from application.sync.messages import MessageBuilder
from application.sync.request import RequestSync, SyncRequester
from application.sync.settings import SyncSettings
from application.sync.sync_account import SyncAccount
from domain.accounts import MailAccount, MailLogin, ServerSettings
from domain.auth import Principal
from domain.ids import new_id
from domain.mailboxes import MailboxRole, SyncState
from domain.messages import Flags, Message
from domain.ports.mail import ImapSession
from domain.remote import FetchedMessage, SelectedFolder
from domain.sync import AccountSync, SyncPhase
from domain.tenants import Role
from tests.unit.fakes import Fakes, new_account, principal
from tests.unit.mail_corpus import plain


class World:
    def __init__(self, batch_size: int = 500, max_message_bytes: int = 10_000_000) -> None:
        self.fakes, self.server, self.blobs = Fakes(), FakeImapServer(), MemoryBlobStore()
        self.settings = SyncSettings(batch_size=batch_size, max_message_bytes=max_message_bytes)
        self.jobs = RecordingJobQueue()

    async def account(self) -> MailAccount:
        f = self.fakes
        return await CreateMailAccount(f.uow, f.cipher, f.clock, f.verifier, f.auditor)(principal(), new_account())

    def sync(self) -> SyncAccount:
        f = self.fakes
        builder = MessageBuilder(StdlibMessageParser(), self.blobs)
        folder = FolderSync(f.uow, builder, f.clock, self.settings)
        request_sync = SyncRequester(f.uow, self.jobs, f.clock)
        return SyncAccount(
            f.uow, FakeImapConnector(self.server), f.logins, f.clock, folder, self.settings, request_sync
        )

    def messages(self, folder: str) -> list[Message]:
        store = self.fakes.uow.store
        [box] = [m for m in store.mailboxes.values() if m.name == folder]
        return sorted((m for (b, _), m in store.messages.items() if b == box.id), key=lambda m: m.uid)

    def subjects(self, folder: str) -> list[str]:
        return [m.subject for m in self.messages(folder)]


def mail(subject: str, **headers: bytes) -> bytes:
    return plain(Subject=subject.encode(), Message_ID=f"<{subject}@example.com>".encode(), **headers)


async def test_first_sync_stores_the_folder_tree_with_roles_counts_and_raw_bytes() -> None:
    world = World()
    account = await world.account()
    world.server.deliver("INBOX", mail("one"), Flags(seen=True))
    world.server.deliver("INBOX", mail("two"))
    world.server.deliver("Sent", mail("sent"))
    world.server.deliver("Projects/2026", mail("plan"))
    result = await world.sync()(account.tenant_id, account.id, "worker-1")

    assert result.phase is SyncPhase.IDLE
    assert (result.progress.folders_done, result.progress.messages_fetched) == (3, 4)
    boxes = {m.name: m for m in world.fakes.uow.store.mailboxes.values()}
    assert {name: box.role for name, box in boxes.items()} == {
        "INBOX": MailboxRole.INBOX,
        "Sent": MailboxRole.SENT,
        "Projects/2026": None,
    }
    assert (boxes["INBOX"].message_count, boxes["INBOX"].unread_count) == (2, 1)
    stored = world.messages("INBOX")
    assert [m.subject for m in stored] == ["one", "two"]
    assert stored[0].raw_blob_key is not None
    assert await world.blobs.get(stored[0].tenant_id, stored[0].raw_blob_key) == mail("one")


async def test_a_second_sync_with_nothing_new_downloads_nothing() -> None:
    world = World()
    account = await world.account()
    for n in range(5):
        world.server.deliver("INBOX", mail(f"m{n}"))
    await world.sync()(account.tenant_id, account.id, "w")
    downloaded = world.server.bodies_fetched
    await world.sync()(account.tenant_id, account.id, "w")
    assert world.server.bodies_fetched == downloaded == 5
    assert len(world.messages("INBOX")) == 5


async def test_new_mail_flag_changes_and_expunges_show_up() -> None:
    world = World()
    account = await world.account()
    for n in range(3):
        world.server.deliver("INBOX", mail(f"m{n}"))
    await world.sync()(account.tenant_id, account.id, "w")

    inbox = world.server.folders["INBOX"]
    inbox.messages[1].flags = Flags(seen=True, flagged=True)
    del inbox.messages[2]
    world.server.deliver("INBOX", mail("m3"))
    await world.sync()(account.tenant_id, account.id, "w")

    stored = world.messages("INBOX")
    assert [(m.uid, m.subject) for m in stored] == [(1, "m0"), (3, "m2"), (4, "m3")]
    assert stored[0].flags == Flags(seen=True, flagged=True)
    assert world.server.bodies_fetched == 4


async def test_a_renamed_folder_is_replaced() -> None:
    world = World()
    account = await world.account()
    world.server.deliver("Old", mail("keep"))
    await world.sync()(account.tenant_id, account.id, "w")
    world.server.folders["New"] = world.server.folders.pop("Old")
    await world.sync()(account.tenant_id, account.id, "w")
    assert {m.name for m in world.fakes.uow.store.mailboxes.values()} == {"INBOX", "New"}
    assert world.subjects("New") == ["keep"]


async def test_a_uidvalidity_change_rebuilds_that_folder_only() -> None:
    world = World()
    account = await world.account()
    world.server.deliver("INBOX", mail("inbox"))
    world.server.deliver("Archive", mail("a1"))
    world.server.deliver("Archive", mail("a2"))
    await world.sync()(account.tenant_id, account.id, "w")
    inbox_before = world.messages("INBOX")

    world.server.recreate("Archive")
    await world.sync()(account.tenant_id, account.id, "w")
    assert world.messages("INBOX") == inbox_before
    assert world.subjects("Archive") == ["a1", "a2"]
    assert [m.uid for m in world.messages("Archive")] == [1, 2]


async def test_a_cut_connection_fails_the_sync_and_the_next_one_resumes_without_duplicates() -> None:
    world = World(batch_size=2)
    account = await world.account()
    for n in range(7):
        world.server.deliver("INBOX", mail(f"m{n}"))
    world.server.fetches_before_drop = 2
    failed = await world.sync()(account.tenant_id, account.id, "w")
    assert failed.phase is SyncPhase.FAILED
    assert failed.last_error == 'folder "INBOX": imap: connection lost'
    assert len(world.messages("INBOX")) == 4

    world.server.fetches_before_drop = None
    done = await world.sync()(account.tenant_id, account.id, "w")
    assert done.phase is SyncPhase.IDLE
    assert [m.uid for m in world.messages("INBOX")] == list(range(1, 8))
    assert world.server.bodies_fetched == 7


async def test_a_folder_the_server_refuses_is_reported_and_the_others_still_sync() -> None:
    world = World()
    account = await world.account()
    world.server.deliver("Shared", mail("hidden"))
    world.server.deliver("INBOX", mail("one"))
    world.server.failing_folders["Shared"] = False
    result = await world.sync()(account.tenant_id, account.id, "w")
    assert result.phase is SyncPhase.FAILED
    assert result.last_error == 'folder "Shared": imap: EXAMINE refused: NO'
    assert world.subjects("INBOX") == ["one"]
    assert world.server.sessions_opened == 1, "a refusal leaves the connection usable"


async def test_a_folder_that_breaks_the_connection_is_passed_over_on_a_new_connection() -> None:
    world = World()
    account = await world.account()
    world.server.deliver("Trap", mail("trapped"))
    world.server.deliver("Archive", mail("old"))
    world.server.failing_folders["Trap"] = True
    result = await world.sync()(account.tenant_id, account.id, "w")
    assert result.phase is SyncPhase.FAILED
    assert result.last_error == 'folder "Trap": imap: EXAMINE failed: timed out'
    assert (world.subjects("INBOX"), world.subjects("Archive")) == ([], ["old"])
    assert (result.progress.folders_done, result.progress.folders_total) == (3, 3)
    assert world.server.sessions_opened == 2


async def test_a_server_that_breaks_every_connection_is_given_up_on() -> None:
    """Each broken connection costs a command timeout: a server breaking them all must not hold a worker for one
    timeout per folder."""
    world = World()
    account = await world.account()
    for n in range(10):
        world.server.deliver(f"Trap{n}", mail(f"t{n}"))
        world.server.failing_folders[f"Trap{n}"] = True
    result = await world.sync()(account.tenant_id, account.id, "w")
    assert result.phase is SyncPhase.FAILED
    assert result.last_error is not None
    assert result.last_error.endswith("gave up after 3 connections failed, 7 folders left")
    assert world.server.sessions_opened == 3


async def test_only_the_lease_holder_syncs() -> None:
    world = World()
    account = await world.account()
    world.server.deliver("INBOX", mail("x"))
    store = world.fakes.uow.store
    await world.sync()(account.tenant_id, account.id, "worker-a")
    store.syncs[account.id] = replace(
        store.syncs[account.id], lease_owner="worker-a", lease_expires_at=world.fakes.clock.now().replace(year=2030)
    )
    world.server.deliver("INBOX", mail("y"))
    skipped = await world.sync()(account.tenant_id, account.id, "worker-b")
    assert skipped.lease_owner == "worker-a"
    assert world.subjects("INBOX") == ["x"]


async def test_messages_over_the_size_limit_are_kept_without_their_body() -> None:
    world = World(max_message_bytes=2000)
    account = await world.account()
    world.server.deliver("INBOX", mail("small"))
    world.server.deliver("INBOX", mail("huge", X_Padding=b"x" * 5000))
    await world.sync()(account.tenant_id, account.id, "w")
    small, huge = world.messages("INBOX")
    assert small.raw_blob_key is not None
    assert huge.raw_blob_key is None
    assert huge.size > 5000
    assert any("over the size limit" in w for w in huge.parse_warnings)


async def test_replies_join_their_thread() -> None:
    world = World()
    account = await world.account()
    world.server.deliver("INBOX", mail("root"))
    world.server.deliver("INBOX", mail("reply", References=b"<root@example.com>", In_Reply_To=b"<root@example.com>"))
    world.server.deliver("INBOX", mail("parent-only", In_Reply_To=b"<reply@example.com>"))
    world.server.deliver("INBOX", mail("unrelated"))
    await world.sync()(account.tenant_id, account.id, "w")
    root, reply, parent_only, unrelated = world.messages("INBOX")
    assert root.thread_id == reply.thread_id == parent_only.thread_id
    assert unrelated.thread_id != root.thread_id


@pytest.mark.parametrize("broken", [b"", b"\x00\xff" * 100, b"Subject: =?utf-8?q?unterminated\r\n\r\nx"])
async def test_a_broken_message_is_one_warning_not_a_failed_sync(broken: bytes) -> None:
    world = World()
    account = await world.account()
    world.server.deliver("INBOX", broken)
    world.server.deliver("INBOX", mail("fine"))
    result = await world.sync()(account.tenant_id, account.id, "w")
    assert result.phase is SyncPhase.IDLE
    assert world.subjects("INBOX")[-1] == "fine"


async def test_a_sync_stopped_by_a_shutting_down_worker_gives_its_lease_back_and_is_queued_again() -> None:
    world = World()
    account = await world.account()
    world.server.deliver("INBOX", mail("one"))
    fetching = asyncio.Event()

    class StallingSession(FakeImapSession):
        async def fetch_messages(self, uids: Sequence[int], max_size: int) -> list[FetchedMessage]:
            fetching.set()
            await asyncio.Event().wait()  # a slow server, until the worker is stopped
            return []

    @asynccontextmanager
    async def stalling(server: ServerSettings, login: MailLogin) -> AsyncIterator[ImapSession]:
        yield StallingSession(world.server)

    f = world.fakes
    folder = FolderSync(f.uow, MessageBuilder(StdlibMessageParser(), world.blobs), f.clock, world.settings)
    request_sync = SyncRequester(f.uow, world.jobs, f.clock)
    running = asyncio.create_task(
        SyncAccount(f.uow, stalling, f.logins, f.clock, folder, world.settings, request_sync)(
            account.tenant_id, account.id, "w-1"
        )
    )
    await fetching.wait()
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running

    state = f.uow.store.syncs[account.id]
    assert (state.phase, state.lease_owner) == (SyncPhase.QUEUED, None)
    assert [(task, job_id) for job_id, task, _ in world.jobs.jobs] == [("sync_account", state.job_id)]
    assert (await world.sync()(account.tenant_id, account.id, "w-2")).phase is SyncPhase.IDLE
    assert world.subjects("INBOX") == ["one"]


async def test_a_sync_requested_while_one_runs_makes_it_run_once_more() -> None:
    """New mail lands in the INBOX after the running sync has passed it: the request must not be lost."""
    world = World()
    account = await world.account()
    world.server.deliver("INBOX", mail("first"))
    world.server.deliver("Sent", mail("sent"))
    f = world.fakes
    request_sync = SyncRequester(f.uow, world.jobs, f.clock)
    request = RequestSync(f.uow, request_sync)
    owner = Principal(account.owner_id or new_id(), account.tenant_id, Role.MEMBER)
    answers: list[AccountSync] = []

    class RequestingSession(FakeImapSession):
        async def select(self, name: str, known: SyncState | None = None) -> SelectedFolder:
            if name == "Sent" and not answers:
                world.server.deliver("INBOX", mail("late"))
                answers.append(await request(owner, account.id))
            return await super().select(name, known)

    @asynccontextmanager
    async def requesting(server: ServerSettings, login: MailLogin) -> AsyncIterator[ImapSession]:
        yield RequestingSession(world.server)

    queued = await request(owner, account.id)
    folder = FolderSync(f.uow, MessageBuilder(StdlibMessageParser(), world.blobs), f.clock, world.settings)
    sync = SyncAccount(f.uow, requesting, f.logins, f.clock, folder, world.settings, request_sync)
    ended = await sync(account.tenant_id, account.id, "w")

    assert (answers[0].phase, answers[0].job_id) == (SyncPhase.RUNNING, queued.job_id)
    assert world.subjects("INBOX") == ["first"]
    assert ended.phase is SyncPhase.IDLE
    status = f.uow.store.syncs[account.id]
    assert status.phase is SyncPhase.QUEUED
    assert [job_id for job_id, _, _ in world.jobs.jobs] == [queued.job_id, status.job_id]

    again = await world.sync()(account.tenant_id, account.id, "w")
    assert again.phase is SyncPhase.IDLE
    assert world.subjects("INBOX") == ["first", "late"]
    assert len(world.jobs.jobs) == 2


async def test_a_sync_requested_while_one_is_queued_is_that_one() -> None:
    world = World()
    account = await world.account()
    f = world.fakes
    request = RequestSync(f.uow, SyncRequester(f.uow, world.jobs, f.clock))
    owner = Principal(account.owner_id or new_id(), account.tenant_id, Role.MEMBER)
    first, second = await request(owner, account.id), await request(owner, account.id)
    assert (first.job_id, second.job_id) == (first.job_id, first.job_id)
    assert len(world.jobs.jobs) == 1
    done = await world.sync()(account.tenant_id, account.id, "w")
    assert done.phase is SyncPhase.IDLE
    assert len(world.jobs.jobs) == 1
