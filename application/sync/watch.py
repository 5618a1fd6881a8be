import asyncio
from collections.abc import Callable, Coroutine, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any
from uuid import UUID

from application.sync.request import SyncRequester
from domain.errors import DependencyUnavailable, MailServerRejected, NotFound
from domain.ports.mail import ImapConnector
from domain.ports.persistence import UnitOfWork
from domain.ports.runtime import ACCOUNTS_TOPIC, Clock, Doorbell, Listener
from domain.ports.security import CredentialCipher

INBOX = "INBOX"


class WatchInbox:
    """Keeps an IDLE watch (RFC 2177) on one account's INBOX and queues a sync whenever the server reports a
    change, and once on every (re)connect for what arrived while nobody watched. IDLE is re-issued every
    `idle_seconds` (servers and NAT drop connections idle for 30 minutes); a lost connection is retried with
    growing pauses. Runs until cancelled or until the account is deleted."""

    def __init__(
        self,
        uow: UnitOfWork,
        imap: ImapConnector,
        cipher: CredentialCipher,
        clock: Clock,
        request_sync: SyncRequester,
        idle_seconds: float = 25 * 60,
        backoff: Sequence[float] = (1, 2, 5, 15, 60),
    ) -> None:
        self._uow = uow
        self._imap = imap
        self._cipher = cipher
        self._clock = clock
        self._request_sync = request_sync
        self._idle_seconds = idle_seconds
        self._backoff = backoff

    async def __call__(self, tenant_id: UUID, account_id: UUID) -> None:
        failures = 0
        while True:
            async with self._uow as uow:
                account = await uow.accounts.get(tenant_id, account_id)
            if account is None:
                return
            try:
                password = self._cipher.decrypt(account.imap_password)
                async with self._imap(account.imap, password) as session:
                    failures = 0
                    await self._request_sync(tenant_id, account_id)
                    while True:
                        if await session.wait_for_change(INBOX, self._idle_seconds):
                            await self._request_sync(tenant_id, account_id)
            except NotFound:
                return
            except (MailServerRejected, DependencyUnavailable):
                await self._clock.sleep(self._backoff[min(failures, len(self._backoff) - 1)])
                failures += 1


class WatchInboxes:
    """One inbox watch per account. The list is read again whenever an account is added, deleted or given another
    IMAP login (the doorbell rings; that account's watch starts over, with the new login), and every
    `refresh_seconds` in case a ring was lost. Run it in exactly one process (the scheduler, or `serve` on the
    embedded default), or each account would be watched, and its IMAP connections used, once per process."""

    def __init__(
        self,
        uow: UnitOfWork,
        watch: Callable[[UUID, UUID], Coroutine[Any, Any, None]],
        refresh_seconds: float = 60,
        doorbell: Doorbell | None = None,
    ) -> None:
        self._uow = uow
        self._watch = watch
        self._refresh_seconds = refresh_seconds
        self._doorbell = doorbell

    async def __call__(self) -> None:
        watches: dict[UUID, asyncio.Task[None]] = {}
        try:
            async with self._listen() as listener:
                rung: set[str] = set()
                while True:
                    async with self._uow as uow:
                        accounts = {account: tenant for tenant, account in await uow.accounts.all_ids()}
                    stale = [a for a, task in watches.items() if a not in accounts or task.done() or a.hex in rung]
                    for account_id in stale:
                        watches.pop(account_id).cancel()
                    for account_id, tenant_id in accounts.items():
                        if account_id not in watches:
                            watches[account_id] = asyncio.create_task(self._watch(tenant_id, account_id))
                    rung = await self._wait(listener)
        finally:
            for task in watches.values():
                task.cancel()
            await asyncio.gather(*watches.values(), return_exceptions=True)

    def _listen(self) -> AbstractAsyncContextManager[Listener | None]:
        return nullcontext() if self._doorbell is None else self._doorbell.listen(ACCOUNTS_TOPIC)

    async def _wait(self, listener: Listener | None) -> set[str]:
        if listener is None:
            await asyncio.sleep(self._refresh_seconds)
            return set()
        return await listener.wait(self._refresh_seconds)
