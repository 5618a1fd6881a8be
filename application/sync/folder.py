import asyncio
from collections.abc import Callable, Coroutine, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from typing import Any
from uuid import UUID

from application.sync.messages import MessageBuilder, Prepared
from application.sync.settings import SyncSettings
from domain.accounts import MailAccount
from domain.changes import message_created, message_deleted, message_updated
from domain.ids import new_id
from domain.mailboxes import Mailbox, SyncState
from domain.messages import summary_of
from domain.ports.mail import ImapSession
from domain.ports.persistence import UnitOfWork
from domain.ports.runtime import Clock
from domain.remote import SelectedFolder
from domain.sync import SyncProgress

AfterBatch = Callable[[], Coroutine[Any, Any, None]]


@dataclass(slots=True)
class Announce:
    """What one account's sync tells the change log, and what it counted for `account.synced`. A first sync
    (`enabled` False) announces no message: a client starts from its one `account.synced`, not from 20,000
    `message.created`."""

    enabled: bool
    created: int = 0
    updated: int = 0
    deleted: int = 0
    rebuilt: list[UUID] = field(default_factory=list)
    """Folders whose UIDVALIDITY changed: their messages were read again under new ids, and not announced."""


class FolderSync:
    """Brings one stored folder up to date with the server (RFC 3501, RFC 7162): each call selects the folder
    and hands the rest to a `FolderRun` of its own."""

    def __init__(self, uow: UnitOfWork, builder: MessageBuilder, clock: Clock, settings: SyncSettings) -> None:
        self._uow = uow
        self._builder = builder
        self._clock = clock
        self._settings = settings

    async def __call__(
        self,
        imap: ImapSession,
        account: MailAccount,
        mailbox: Mailbox,
        progress: SyncProgress,
        after_batch: AfterBatch,
        announce: Announce | None = None,
    ) -> None:
        announce = Announce(enabled=False) if announce is None else announce
        selected = await imap.select(mailbox.name, mailbox.sync_state)
        stored = mailbox.sync_state
        if stored is not None and stored.uidvalidity == selected.uidvalidity:
            known, starts_over = stored, False
        else:
            known, starts_over = SyncState(selected.uidvalidity, 0, None), True
        rebuilt = starts_over and stored is not None
        if rebuilt:
            announce.rebuilt.append(mailbox.id)
        run = FolderRun(
            self._uow, self._builder, self._clock, self._settings, imap, account, mailbox, selected, known, progress,
            announce if not rebuilt else Announce(enabled=False),
        )  # fmt: skip
        await run(starts_over, after_batch)


@dataclass
class FolderRun:
    """One folder's sync, from after SELECT to the stored counts: the session it runs in, the account and folder
    as stored when it began, what SELECT answered, and the sync state it goes on from (the stored one, or a new
    one when the folder starts over)."""

    uow: UnitOfWork
    builder: MessageBuilder
    clock: Clock
    settings: SyncSettings
    imap: ImapSession
    account: MailAccount
    mailbox: Mailbox
    selected: SelectedFolder
    known: SyncState
    progress: SyncProgress
    announce: Announce

    async def __call__(self, starts_over: bool, after_batch: AfterBatch) -> None:
        if starts_over:
            await self._start_over()
            new = await self._new_uids()
        else:
            new = await self._new_uids()
            await self._reconcile(len(new))
        self.progress.messages_total += len(new)
        last_uid = await self._fetch_new(new, after_batch)
        await self._finish(SyncState(self.selected.uidvalidity, last_uid, self.selected.highest_modseq))

    async def _new_uids(self) -> Sequence[int]:
        """The UIDs above the last one stored, as the server lists them (UID SEARCH), not counted up to UIDNEXT:
        UIDNEXT is only the server's word, and UIDNEXT 4294967295 in a folder of one message would be 8.6 million
        empty batches. UIDNEXT (when given) still spares the search when nothing is new."""
        selected = self.selected
        if selected.exists == 0 or 0 < selected.uidnext <= self.known.last_uid + 1:
            return []
        return await self.imap.uids(self.known.last_uid + 1)

    async def _start_over(self) -> None:
        """A new folder, or UIDVALIDITY changed (RFC 3501 section 2.3.1.1): every stored UID of it is void."""
        async with self.uow as uow:
            if self.mailbox.sync_state is not None:
                await uow.message_store.remove_all(self.mailbox.id)
            await uow.mailboxes.update(replace(self.mailbox, sync_state=self.known))
            await uow.commit()

    async def _reconcile(self, new_count: int) -> None:
        """Deletions, then flag changes, for the messages already stored. The stored HIGHESTMODSEQ only moves
        forward after both are applied, or a cut sync would lose them."""
        known, selected = self.known, self.selected
        modseq_unchanged = known.highest_modseq is not None and known.highest_modseq == selected.highest_modseq
        async with self.uow as uow:
            gone = await self._deleted(uow, modseq_unchanged, new_count)
            removed = await uow.message_store.remove_uids(self.mailbox.id, gone)
            changes = []
            if not modseq_unchanged:
                changed = selected.changed or await self.imap.fetch_flags(1, changed_since=known.highest_modseq)
                updates = [u for u in changed if u.uid <= known.last_uid]
                changes = await uow.message_store.apply_flags(self.mailbox.id, updates)
            if self.announce.enabled:
                now, tenant_id = self.clock.now(), self.mailbox.tenant_id
                for summary in removed:
                    uow.changes.record(message_deleted(tenant_id, summary, now, new_id()))
                for change in changes:
                    uow.changes.record(message_updated(tenant_id, change.message, change.before, now, new_id()))
                self.announce.deleted += len(removed)
                self.announce.updated += len(changes)
            await uow.commit()

    async def _deleted(self, uow: UnitOfWork, modseq_unchanged: bool, new_count: int) -> list[int]:
        """UIDs the server expunged. Stored UIDs are only read, and compared with a UID SEARCH, when neither
        QRESYNC (with a VANISHED report short enough to list) nor the message counts can tell; a re-sync with
        nothing new reads none."""
        known, selected = self.known, self.selected
        if self.imap.reports_vanished and known.highest_modseq is not None and selected.vanished is not None:
            return selected.vanished
        if modseq_unchanged and selected.vanished is not None:
            return []
        stored_count, _ = await uow.message_store.counts(self.mailbox.id)
        if selected.exists == stored_count + new_count:
            return []
        present = set(await self.imap.uids())
        return [uid for uid in await uow.message_store.uids(self.mailbox.id) if uid not in present]

    async def _fetch_new(self, new: Sequence[int], after_batch: AfterBatch) -> int:
        """Batch by batch, each committed with its last UID so a cut sync resumes after it. A batch is written to
        the database while the next one is fetched and parsed (the database's own work, indexing the text for
        search, then runs on the other core); batches still commit one after the other, in order."""
        size, max_bytes = self.settings.batch_size, self.settings.max_message_bytes
        last_uid = self.known.last_uid
        writing: asyncio.Task[int] | None = None
        try:
            for start in range(0, len(new), size):
                batch = new[start : start + size]
                fetched = await self.imap.fetch_messages(batch, max_bytes)
                prepared = await self.builder.prepare(self.mailbox.tenant_id, fetched)
                if writing is not None:
                    self.progress.messages_fetched += await writing
                    await after_batch()
                writing = asyncio.create_task(self._store(batch[0], batch[-1], prepared))
                last_uid = batch[-1]
            if writing is not None:
                self.progress.messages_fetched += await writing
                await after_batch()
        finally:
            if writing is not None and not writing.done():
                with suppress(Exception):
                    await writing
        return last_uid

    async def _store(self, first: int, batch_end: int, prepared: list[Prepared]) -> int:
        """A message Mailroom itself moved here is stored already, under the UID the server reported: skipped."""
        async with self.uow as uow:
            stored = await uow.message_store.stored_uids(self.mailbox.id, first, batch_end)
            fresh = [p for p in prepared if p.fetched.uid not in stored]
            messages = await self.builder.build(uow, self.account, self.mailbox, fresh)
            await uow.message_store.add_many(messages)
            if self.announce.enabled:
                now = self.clock.now()
                for message in messages:
                    uow.changes.record(message_created(message.tenant_id, summary_of(message), now, new_id()))
                self.announce.created += len(messages)
            state = SyncState(self.known.uidvalidity, batch_end, self.known.highest_modseq)
            await uow.mailboxes.update(replace(self.mailbox, sync_state=state))
            await uow.commit()
        return len(messages)

    async def _finish(self, state: SyncState) -> None:
        async with self.uow as uow:
            total, unread = await uow.message_store.counts(self.mailbox.id)
            done = replace(
                self.mailbox,
                sync_state=state,
                message_count=total,
                unread_count=unread,
                last_synced_at=self.clock.now(),
            )
            await uow.mailboxes.update(done)
            await uow.commit()
