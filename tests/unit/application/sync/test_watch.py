"""The IDLE watch on an account's INBOX (application/sync/watch.py): a sync is queued on every (re)connect and on
every change the server reports; IDLE is re-issued on the same connection; a refused or lost connection is tried
again after growing pauses on the clock; the watch ends when the account is deleted."""

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from datetime import datetime

from adapters.memory.imap import FakeImapServer, FakeImapSession
from adapters.memory.runtime import ManualClock
from adapters.memory.unit_of_work import MemoryUnitOfWork
from application.accounts.delete import DeleteMailAccount
from application.accounts.logins import MailLogins
from application.jobs import SYNC_TASK
from application.sync.request import SyncRequester
from application.sync.watch import WatchInbox
from domain.accounts import MailAccount, MailLogin, ServerSettings
from domain.errors import MailServerRejected
from domain.ports.mail import ImapConnector, ImapSession
from tests.unit.stored_mail import StoredMail, mail


class CuttableSession(FakeImapSession):
    def __init__(self, server: FakeImapServer, connections: "Connections") -> None:
        super().__init__(server)
        self._connections = connections

    async def wait_for_change(self, folder: str, idle_seconds: float) -> bool:
        self._connections.idles.append((folder, idle_seconds))
        changed = asyncio.ensure_future(super().wait_for_change(folder, idle_seconds))
        cut = asyncio.ensure_future(self._connections.cut.wait())
        await asyncio.wait({changed, cut}, return_when=asyncio.FIRST_COMPLETED)
        changed.cancel()
        cut.cancel()
        if self._connections.cut.is_set():
            self._connections.cut.clear()
            raise MailServerRejected("imap", "connection lost")
        return changed.result()


class Connections(ImapConnector):
    """IMAP connections to the fake server that a test can refuse (`refusals` next attempts) or `cut` while
    they wait in IDLE; `attempts` holds when each connection was tried, `idles` each IDLE (folder, seconds)."""

    def __init__(self, server: FakeImapServer, clock: ManualClock) -> None:
        self.server, self.clock = server, clock
        self.refusals = 0
        self.cut = asyncio.Event()
        self.attempts: list[datetime] = []
        self.idles: list[tuple[str, float]] = []

    @asynccontextmanager
    async def __call__(self, server: ServerSettings, login: MailLogin) -> AsyncIterator[ImapSession]:
        self.attempts.append(self.clock.now())
        if self.refusals:
            self.refusals -= 1
            raise MailServerRejected("imap", "connection refused")
        yield CuttableSession(self.server, self)

    def pauses(self) -> list[float]:
        """The seconds between one connection attempt and the next."""
        return [(b - a).total_seconds() for a, b in zip(self.attempts, self.attempts[1:], strict=False)]


async def eventually(condition: Callable[[], bool]) -> None:
    for _ in range(2000):
        if condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("the watch did not get there")


@asynccontextmanager
async def watching(
    world: StoredMail,
    account: MailAccount,
    connections: Connections,
    idle_seconds: float = 60,
    backoff: Sequence[float] = (1, 2, 5),
) -> AsyncIterator["asyncio.Task[None]"]:
    f = world.fakes
    uow = MemoryUnitOfWork(f.uow.store)  # a unit of work of its own, as the watch has in production
    watch = WatchInbox(
        uow,
        connections,
        MailLogins(uow, f.cipher, f.clock),
        f.clock,
        SyncRequester(uow, world.jobs, f.clock),
        idle_seconds,
        backoff,
    )
    task = asyncio.create_task(watch(account.tenant_id, account.id))
    try:
        yield task
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


def syncs_queued(world: StoredMail, account: MailAccount) -> int:
    arguments = {"tenant_id": str(account.tenant_id), "account_id": str(account.id)}
    assert all(args == arguments for args in world.job_arguments(SYNC_TASK))
    return len(world.job_arguments(SYNC_TASK))


async def delete_account(world: StoredMail, account: MailAccount) -> None:
    await DeleteMailAccount(world.fakes.uow, world.fakes.auditor)(world.user, account.id)


async def test_a_sync_is_queued_on_connecting_and_on_each_change_the_server_reports() -> None:
    world = StoredMail()
    account = await world.account()
    connections = Connections(world.server, world.fakes.clock)
    async with watching(world, account, connections):
        await eventually(lambda: syncs_queued(world, account) == 1)
        await world.sync(account)  # a worker runs the queued sync

        world.server.deliver("INBOX", mail("new"))
        await eventually(lambda: syncs_queued(world, account) == 2)

    assert len(connections.attempts) == 1


async def test_a_quiet_inbox_is_idled_again_on_the_same_connection_and_queues_nothing() -> None:
    world = StoredMail()
    account = await world.account()
    connections = Connections(world.server, world.fakes.clock)
    async with watching(world, account, connections, idle_seconds=0.001):
        await eventually(lambda: len(connections.idles) >= 3)

    assert set(connections.idles) == {("INBOX", 0.001)}
    assert syncs_queued(world, account) == 1, "the one queued on connecting"
    assert len(connections.attempts) == 1


async def test_refused_connections_are_tried_again_after_growing_pauses_up_to_the_last() -> None:
    world = StoredMail()
    account = await world.account()
    connections = Connections(world.server, world.fakes.clock)
    connections.refusals = 4
    async with watching(world, account, connections, backoff=(1, 2, 5)):
        await eventually(lambda: syncs_queued(world, account) == 1)

    assert connections.pauses() == [1, 2, 5, 5]


async def test_a_lost_connection_is_tried_again_and_the_reconnect_queues_a_sync_for_what_was_missed() -> None:
    world = StoredMail()
    account = await world.account()
    connections = Connections(world.server, world.fakes.clock)
    async with watching(world, account, connections, backoff=(1, 2, 5)):
        await eventually(lambda: syncs_queued(world, account) == 1)
        await world.sync(account)

        connections.refusals = 1
        connections.cut.set()
        await eventually(lambda: syncs_queued(world, account) == 2)
        await world.sync(account)

        connections.cut.set()
        await eventually(lambda: syncs_queued(world, account) == 3)

    assert connections.pauses() == [1, 2, 1], "the pauses start over after a connection that worked"


async def test_the_watch_ends_when_the_account_is_deleted_while_connected() -> None:
    world = StoredMail()
    account = await world.account()
    connections = Connections(world.server, world.fakes.clock)
    async with watching(world, account, connections) as task:
        await eventually(lambda: syncs_queued(world, account) == 1)
        await delete_account(world, account)

        world.server.deliver("INBOX", mail("new"))
        assert await asyncio.wait_for(asyncio.shield(task), timeout=1) is None, "it ended by itself"

    assert syncs_queued(world, account) == 1


async def test_the_watch_ends_when_the_account_is_deleted_while_it_cannot_connect() -> None:
    world = StoredMail()
    account = await world.account()
    connections = Connections(world.server, world.fakes.clock)
    connections.refusals = 1_000_000
    async with watching(world, account, connections) as task:
        await eventually(lambda: len(connections.attempts) >= 3)
        await delete_account(world, account)
        assert await asyncio.wait_for(asyncio.shield(task), timeout=1) is None, "it ended by itself"


async def test_with_notify_one_connection_hears_of_mail_in_any_folder() -> None:
    world = StoredMail()
    account = await world.account()
    world.server.folders["Archive"] = type(world.server.folders["INBOX"])()
    connections = Connections(world.server, world.fakes.clock)
    async with watching(world, account, connections):
        await eventually(lambda: syncs_queued(world, account) == 1)
        await world.sync(account)
        world.server.deliver("Archive", mail("filed by a rule"))
        await eventually(lambda: syncs_queued(world, account) == 2)

    assert len(connections.attempts) == 1
    assert {folder for folder, _ in connections.idles} == {"INBOX"}


async def test_without_notify_sent_is_watched_on_a_connection_of_its_own_and_other_folders_are_not() -> None:
    world = StoredMail()
    world.server.notify = False
    account = await world.account()
    for name, use in (("Sent", ["\\Sent"]), ("Archive", [])):
        world.server.folders[name] = type(world.server.folders["INBOX"])(special_use=use)
    await world.sync(account)  # the watch finds the Sent folder among the stored ones
    connections = Connections(world.server, world.fakes.clock)
    async with watching(world, account, connections):
        await eventually(lambda: {folder for folder, _ in connections.idles} == {"INBOX", "Sent"})
        await world.sync(account)  # a worker runs the sync queued on connecting
        queued = syncs_queued(world, account)
        world.server.deliver("Archive", mail("not watched: the schedule brings it"))
        await asyncio.sleep(0.05)
        assert syncs_queued(world, account) == queued
        world.server.deliver("Sent", mail("sent from a phone"))
        await eventually(lambda: syncs_queued(world, account) == queued + 1)

    assert len(connections.attempts) == 2
