import asyncio
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from application.accounts.logins import REAUTH_REQUIRED, MailLogins, imap_session
from application.sync.folder import Announce, FolderSync
from application.sync.request import SyncRequester
from application.sync.settings import SyncSettings
from domain.accounts import MailAccount
from domain.changes import Change, ChangeType, mailbox_event
from domain.errors import Conflict, DomainError, MailServerRejected, NotFound, ReauthRequired
from domain.ids import new_id
from domain.mailboxes import Mailbox
from domain.ports.mail import ImapConnector, ImapSession
from domain.ports.persistence import UnitOfWork
from domain.ports.runtime import Clock
from domain.rejections import Rejection, rejection_of
from domain.remote import RemoteFolder
from domain.sync import AccountSync, SyncPhase

MAX_CONNECTIONS = 3


class LeaseLost(DomainError):
    """Another worker took over this account's sync (ours stalled past the lease)."""


@dataclass(frozen=True, slots=True)
class SyncRun:
    sync: AccountSync
    """The account's sync status after this run."""
    rejected: Rejection | None = None
    """Why the server (or the OAuth2 provider) turned the whole sync away, when it did."""


class SyncAccount:
    """Syncs every folder of one account. Only the holder of the account's lease syncs; the lease is renewed
    after each batch and expires if the worker dies, so another worker can take over (and resume)."""

    def __init__(
        self,
        uow: UnitOfWork,
        imap: ImapConnector,
        logins: MailLogins,
        clock: Clock,
        folder_sync: FolderSync,
        settings: SyncSettings,
        request_sync: SyncRequester,
    ) -> None:
        self._uow = uow
        self._imap = imap
        self._logins = logins
        self._clock = clock
        self._folder_sync = folder_sync
        self._settings = settings
        self._request_sync = request_sync

    async def __call__(self, tenant_id: UUID, account_id: UUID, owner: str) -> AccountSync:
        return (await self.run(tenant_id, account_id, owner)).sync

    async def run(self, tenant_id: UUID, account_id: UUID, owner: str) -> SyncRun:
        """As a call, with the kind of rejection that failed the sync (for the worker's metrics)."""
        account, sync = await self._claim(tenant_id, account_id, owner)
        if sync.lease_owner != owner:
            return SyncRun(sync)
        announce = Announce(enabled=not sync.initial)
        rejected = None
        try:
            failures = await self._sync_folders(account, sync, owner, announce)
        except ReauthRequired as error:
            # the lost grant's `account.error` went out with the grant's change (MailLogins), once
            sync.fail(self._clock.now(), f"{REAUTH_REQUIRED}: {error.reason}")
            outcome: list[Change] = []
            rejected = rejection_of(error)
        except MailServerRejected as error:
            outcome = self._failed(sync, error.message)
            rejected = rejection_of(error)
        except LeaseLost as error:
            outcome = self._failed(sync, error.message)
        except asyncio.CancelledError:
            await self._give_back(sync)
            raise
        except Exception as error:
            await self._save(sync, self._failed(sync, f"internal error ({type(error).__name__})"))
            raise
        else:
            outcome = self._failed(sync, "; ".join(failures)) if failures else self._finished(sync, announce)
        await self._save(sync, outcome)
        if sync.phase is SyncPhase.IDLE and await self._asked_again(sync):
            await self._request_sync(sync.tenant_id, sync.account_id)
        return SyncRun(sync, rejected)

    async def _claim(self, tenant_id: UUID, account_id: UUID, owner: str) -> tuple[MailAccount, AccountSync]:
        """Creates the status row if needed and tries for the lease. Two workers may race to create the row:
        the loser's insert fails (it must not overwrite the winner's row, lease and all) and it retries once;
        the lease (one conditional UPDATE) decides who syncs."""
        try:
            return await self._try_claim(tenant_id, account_id, owner)
        except Conflict:
            return await self._try_claim(tenant_id, account_id, owner)

    async def _try_claim(self, tenant_id: UUID, account_id: UUID, owner: str) -> tuple[MailAccount, AccountSync]:
        now = self._clock.now()
        async with self._uow as uow:
            account = await uow.accounts.get(tenant_id, account_id)
            if account is None:
                raise NotFound("mail account not found")
            sync = await uow.syncs.get(tenant_id, account_id)
            if sync is None:
                sync = AccountSync(tenant_id, account_id)
                await uow.syncs.add(sync)
            if await uow.syncs.take_lease(account_id, owner, now, self._settings.lease_ttl):
                sync.take_lease(owner, now, self._settings.lease_ttl)
                sync.start(now)
                await uow.syncs.save(sync)
            else:
                sync = await uow.syncs.get(tenant_id, account_id) or sync
            await uow.commit()
        return account, sync

    def _failed(self, sync: AccountSync, reason: str) -> list[Change]:
        """`account.error` once per episode: the retries that fail after it say nothing more."""
        now = self._clock.now()
        if not sync.fail(now, reason):
            return []
        data = {"reason": sync.last_error, "failing_since": now}
        return [Change(new_id(), ChangeType.ACCOUNT_ERROR, sync.tenant_id, sync.account_id, now, data)]

    def _finished(self, sync: AccountSync, announce: Announce) -> list[Change]:
        """`account.recovered` after an error episode, and `account.synced` when the sync is the account's first
        (also after failed tries), or found something to announce: a sync that found nothing new is not news."""
        now = self._clock.now()
        initial = sync.initial
        changes = []
        if sync.finish(now):
            changes.append(Change(new_id(), ChangeType.ACCOUNT_RECOVERED, sync.tenant_id, sync.account_id, now, {}))
        if initial or announce.created or announce.updated or announce.deleted or announce.rebuilt:
            data = {
                "initial": initial,
                "mailboxes": sync.progress.folders_total,
                "messages_fetched": sync.progress.messages_fetched,
                "created": announce.created,
                "updated": announce.updated,
                "deleted": announce.deleted,
                "rebuilt_mailbox_ids": announce.rebuilt,
            }
            changes.append(Change(new_id(), ChangeType.ACCOUNT_SYNCED, sync.tenant_id, sync.account_id, now, data))
        return changes

    async def _sync_folders(self, account: MailAccount, sync: AccountSync, owner: str, announce: Announce) -> list[str]:
        """Every folder in turn; returns what failed. A folder that fails is recorded and passed over, and the
        others are still synced: on a new connection when the failure left the old one unusable (a timeout, a
        lost connection, an answer cut off for breaking a limit). A server that leaves MAX_CONNECTIONS connections
        unusable in one sync is given up on, so a hostile one costs at most that many command timeouts."""
        failures: list[str] = []
        pending: deque[Mailbox] = deque()
        for attempt in range(MAX_CONNECTIONS):
            try:
                async with imap_session(self._imap, self._logins, account) as imap:
                    if attempt == 0:
                        pending.extend(await self._list_folders(imap, account, sync, announce))
                    await self._sync_while_usable(imap, account, pending, sync, owner, failures, announce)
            except MailServerRejected as error:
                if attempt == 0:
                    raise
                failures.append(f"reconnecting: {error.message}")
                return failures
            if not pending:
                return failures
        failures.append(f"gave up after {MAX_CONNECTIONS} connections failed, {len(pending)} folders left")
        return failures

    async def _list_folders(
        self, imap: ImapSession, account: MailAccount, sync: AccountSync, announce: Announce
    ) -> list[Mailbox]:
        remote = [folder for folder in await imap.list_folders() if folder.selectable]
        async with self._uow as uow:
            stored = {m.name: m for m in await uow.mailboxes.for_account(account.tenant_id, account.id)}
        unknown = [f.name for f in remote if f.name not in stored or stored[f.name].remote_id is None]
        ids = await imap.folder_ids(unknown) if unknown else {}
        mailboxes = await self._match_folders(account, remote, ids, announce.enabled)
        sync.progress.folders_total = len(mailboxes)
        return mailboxes

    async def _sync_while_usable(
        self,
        imap: ImapSession,
        account: MailAccount,
        pending: deque[Mailbox],
        sync: AccountSync,
        owner: str,
        failures: list[str],
        announce: Announce,
    ) -> None:
        async def after_batch() -> None:
            await self._renew(sync, owner)

        while pending and imap.usable:
            mailbox = pending.popleft()
            try:
                await self._folder_sync(imap, account, mailbox, sync.progress, after_batch, announce)
            except MailServerRejected as error:
                failures.append(f'folder "{mailbox.name}": {error.message}')
            sync.progress.folders_done += 1
            await self._renew(sync, owner)

    async def _match_folders(
        self, account: MailAccount, remote: list[RemoteFolder], ids: dict[str, str], announce: bool
    ) -> list[Mailbox]:
        """New folders are added, and stored folders the server no longer has are removed with their messages (a
        folder's `mailbox.deleted` stands for its messages too), unless the server's id of a new folder (`ids`,
        which a rename keeps) is that of a folder gone: then it was renamed, and keeps its id, messages and place
        in the sync."""
        now = self._clock.now()
        async with self._uow as uow:
            stored = {m.name: m for m in await uow.mailboxes.for_account(account.tenant_id, account.id)}
            names = {folder.name for folder in remote}
            gone = {m.remote_id: m for name, m in stored.items() if name not in names and m.remote_id is not None}
            renamed = {
                folder.name: gone.pop(ids[folder.name])
                for folder in remote
                if folder.name not in stored and ids.get(folder.name) in gone
            }
            kept = {m.id for m in renamed.values()}
            for name, mailbox in stored.items():
                if name not in names and mailbox.id not in kept:
                    await uow.mailboxes.delete(account.tenant_id, mailbox.id)
                    if announce:
                        uow.changes.record(mailbox_event(ChangeType.MAILBOX_DELETED, mailbox, now, new_id()))
            result = []
            for folder in remote:
                existing = stored.get(folder.name)
                if folder.name in renamed:
                    mailbox = renamed[folder.name]
                    old_name = mailbox.name
                    mailbox.name, mailbox.delimiter, mailbox.role = folder.name, folder.delimiter, folder.role
                    await uow.mailboxes.update(mailbox)
                    if announce:
                        event = mailbox_event(ChangeType.MAILBOX_RENAMED, mailbox, now, new_id(), old_name=old_name)
                        uow.changes.record(event)
                elif existing is None:
                    mailbox = Mailbox(
                        new_id(), account.tenant_id, account.id, folder.name, folder.delimiter, folder.role, None,
                        remote_id=ids.get(folder.name),
                    )  # fmt: skip
                    await uow.mailboxes.add(mailbox)
                    if announce:
                        uow.changes.record(mailbox_event(ChangeType.MAILBOX_CREATED, mailbox, now, new_id()))
                else:
                    mailbox = existing
                    remote_id = mailbox.remote_id or ids.get(folder.name)
                    if (mailbox.role, mailbox.remote_id) != (folder.role, remote_id):
                        mailbox.role, mailbox.remote_id = folder.role, remote_id
                        await uow.mailboxes.update(mailbox)
                result.append(mailbox)
            await uow.commit()
        return result

    async def _renew(self, sync: AccountSync, owner: str) -> None:
        now = self._clock.now()
        async with self._uow as uow:
            if not await uow.syncs.take_lease(sync.account_id, owner, now, self._settings.lease_ttl):
                raise LeaseLost("another worker took over this account's sync")
            sync.take_lease(owner, now, self._settings.lease_ttl)
            await uow.syncs.save(sync)
            await uow.commit()

    async def _give_back(self, sync: AccountSync) -> None:
        """The worker is stopping (cancelled): the lease goes back at once and the sync is queued again, so another
        worker resumes it now, after the last committed batch."""
        sync.release()
        await self._save(sync)
        await self._request_sync(sync.tenant_id, sync.account_id)

    async def _asked_again(self, sync: AccountSync) -> bool:
        """Whether a sync was requested while this one ran. A failed sync leaves the request for the next."""
        async with self._uow as uow:
            asked = await uow.syncs.take_run_again(sync.account_id)
            await uow.commit()
        return asked

    async def _save(self, sync: AccountSync, changes: Sequence[Change] = ()) -> None:
        async with self._uow as uow:
            await uow.syncs.save(sync)
            for change in changes:
                uow.changes.record(change)
            await uow.commit()
