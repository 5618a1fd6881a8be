import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext, suppress
from datetime import timedelta
from typing import Any
from uuid import UUID

from application.accounts.logins import MailLogins, imap_session
from application.sync.request import SyncRequester
from domain.accounts import MailAccount
from domain.errors import DependencyUnavailable, MailServerRejected, NotFound, ReauthRequired
from domain.mailboxes import MailboxRole
from domain.ports.mail import ImapConnector
from domain.ports.persistence import UnitOfWork
from domain.ports.runtime import ACCOUNTS_TOPIC, Clock, Doorbell, Listener

INBOX = "INBOX"

log = logging.getLogger("mailroom.watch")


class WatchInbox:
    """Keeps an IDLE watch (RFC 2177) on one account and queues a sync whenever the server reports a change, and
    once on every (re)connect for what arrived while nobody watched. Where the server has NOTIFY (RFC 5465), the
    one connection IDLing on INBOX hears of every folder; elsewhere INBOX is watched, plus, each on a connection of
    its own, the folders of `extra_roles` (Sent by default, where other clients file what they send), and the
    scheduled syncs bring the rest. IDLE is re-issued every `idle_seconds` (servers and NAT drop connections idle
    for 30 minutes); a lost connection is retried with growing pauses. Runs until cancelled or until the account
    is deleted."""

    def __init__(
        self,
        uow: UnitOfWork,
        imap: ImapConnector,
        logins: MailLogins,
        clock: Clock,
        request_sync: SyncRequester,
        idle_seconds: float = 25 * 60,
        backoff: Sequence[float] = (1, 2, 5, 15, 60),
        extra_roles: Sequence[MailboxRole] = (MailboxRole.SENT,),
    ) -> None:
        self._uow = uow
        self._imap = imap
        self._logins = logins
        self._clock = clock
        self._request_sync = request_sync
        self._idle_seconds = idle_seconds
        self._backoff = backoff
        self._extra_roles = frozenset(extra_roles)

    async def __call__(self, tenant_id: UUID, account_id: UUID) -> None:
        failures = 0
        while True:
            async with self._uow as uow:
                account = await uow.accounts.get(tenant_id, account_id)
            if account is None:
                return
            try:
                async with imap_session(self._imap, self._logins, account) as session:
                    failures = 0
                    await self._request_sync(tenant_id, account_id)
                    extras = [] if await session.watch_everywhere() else await self._extra_folders(account)
                    async with _watching_also(self._watch_folder(account, name) for name in extras):
                        while True:
                            if await session.wait_for_change(INBOX, self._idle_seconds):
                                await self._request_sync(tenant_id, account_id)
            except NotFound:
                return
            except ReauthRequired:
                # nothing to try until the user signs in again; the watch looks again at its longest pause
                await self._clock.sleep(self._backoff[-1])
            except (MailServerRejected, DependencyUnavailable):
                await self._clock.sleep(self._backoff[min(failures, len(self._backoff) - 1)])
                failures += 1

    async def _extra_folders(self, account: MailAccount) -> list[str]:
        async with self._uow as uow:
            folders = await uow.mailboxes.for_account(account.tenant_id, account.id)
        return sorted(f.name for f in folders if f.role in self._extra_roles and f.name.upper() != INBOX)

    async def _watch_folder(self, account: MailAccount, folder: str) -> None:
        """One more folder on a connection of its own, reconnecting after failures, until cancelled."""
        failures = 0
        while True:
            try:
                async with imap_session(self._imap, self._logins, account) as session:
                    failures = 0
                    while True:
                        if await session.wait_for_change(folder, self._idle_seconds):
                            await self._request_sync(account.tenant_id, account.id)
            except (MailServerRejected, DependencyUnavailable):
                await self._clock.sleep(self._backoff[min(failures, len(self._backoff) - 1)])
                failures += 1


@asynccontextmanager
async def _watching_also(watches: Iterable[Coroutine[Any, Any, None]]) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(watch) for watch in watches]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class WatchPool:
    """This process's share of the inbox watches, held by leases (WatchLeaseRepository): every `refresh_seconds`
    it renews its leases, drops the watches it no longer holds (the account was deleted, or another process took
    the lease over after this one stalled), and claims accounts nobody watches, up to `capacity` IDLE connections.
    A process that dies stops renewing; its accounts are taken over once their leases run out (`lease`).

    The doorbell shortens the wait: an account added, deleted or given another IMAP login is claimed, dropped or
    watched anew (with the new login) at once, not at the next round."""

    def __init__(
        self,
        uow: UnitOfWork,
        watch: Callable[[UUID, UUID], Coroutine[Any, Any, None]],
        clock: Clock,
        owner: str,
        capacity: int,
        lease: timedelta,
        refresh_seconds: float,
        doorbell: Doorbell | None = None,
        claim_batch: int = 100,
    ) -> None:
        self._uow = uow
        self._watch = watch
        self._clock = clock
        self._owner = owner
        self._capacity = capacity
        self._lease = lease
        self._refresh_seconds = refresh_seconds
        self._doorbell = doorbell
        self._claim_batch = claim_batch
        self.watches: dict[UUID, asyncio.Task[None]] = {}

    async def __call__(self) -> None:
        try:
            async with self._listen() as listener:
                rung: set[str] = set()
                while True:
                    try:
                        await self._round(rung)
                    except Exception as error:  # noqa: BLE001 - the store failed this round: keep the watches held
                        log.warning("inbox watch leases not renewed (%s); trying again", type(error).__name__)
                    rung = await self._wait(listener)
        finally:
            await self._stop_all()

    async def _round(self, rung: set[str]) -> None:
        now = self._clock.now()
        async with self._uow as uow:
            renewed = await uow.watches.renew(self._owner, now, now + self._lease)
            await uow.commit()
        held = {account: tenant for tenant, account in renewed}
        for account_id in [a for a, task in self.watches.items() if a not in held or task.done() or a.hex in rung]:
            task = self.watches.pop(account_id)
            if task.done() and not task.cancelled() and (error := task.exception()) is not None:
                log.warning(
                    "the inbox watch of account %s failed (%s); it starts again", account_id, type(error).__name__
                )
            task.cancel()
        room = self._capacity - len(held)
        while room > 0:
            async with self._uow as uow:
                taken = await uow.watches.claim(self._owner, now, now + self._lease, min(room, self._claim_batch))
                await uow.commit()
            held.update((account, tenant) for tenant, account in taken)
            room -= len(taken)
            if len(taken) < self._claim_batch:
                break
        for account_id, tenant_id in held.items():
            if account_id not in self.watches:
                self.watches[account_id] = asyncio.create_task(self._watch(tenant_id, account_id))

    async def _stop_all(self) -> None:
        """Shutting down: the watches stop and their leases go back at once, for the other processes to claim."""
        tasks, self.watches = self.watches, {}
        for task in tasks.values():
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)
        if tasks:
            with suppress(Exception):
                async with self._uow as uow:
                    await uow.watches.release(self._owner, list(tasks))
                    await uow.commit()

    def _listen(self) -> AbstractAsyncContextManager[Listener | None]:
        return nullcontext() if self._doorbell is None else self._doorbell.listen(ACCOUNTS_TOPIC)

    async def _wait(self, listener: Listener | None) -> set[str]:
        if listener is None:
            await asyncio.sleep(self._refresh_seconds)
            return set()
        return await listener.wait(self._refresh_seconds)
