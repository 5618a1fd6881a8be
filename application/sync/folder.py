import asyncio
from collections.abc import Callable, Coroutine, Sequence
from contextlib import suppress
from dataclasses import replace
from typing import Any

from application.sync.messages import MessageBuilder, Prepared
from application.sync.settings import SyncSettings
from domain.accounts import MailAccount
from domain.mailboxes import Mailbox, SyncState
from domain.ports.mail import ImapSession
from domain.ports.persistence import UnitOfWork
from domain.ports.runtime import Clock
from domain.remote import SelectedFolder
from domain.sync import SyncProgress

AfterBatch = Callable[[], Coroutine[Any, Any, None]]


class FolderSync:
    """Brings one stored folder up to date with the server (RFC 3501, RFC 7162)."""

    def __init__(self, uow: UnitOfWork, builder: MessageBuilder, clock: Clock, settings: SyncSettings) -> None:
        self._uow = uow
        self._builder = builder
        self._clock = clock
        self._settings = settings

    async def __call__(
        self, imap: ImapSession, account: MailAccount, mailbox: Mailbox, progress: SyncProgress, after_batch: AfterBatch
    ) -> None:
        known = mailbox.sync_state
        selected = await imap.select(mailbox.name, known)
        if known is None or known.uidvalidity != selected.uidvalidity:
            known = await self._start_over(mailbox, selected)
            new = await self._new_uids(imap, known, selected)
        else:
            new = await self._new_uids(imap, known, selected)
            await self._reconcile(imap, mailbox, known, selected, len(new))
        progress.messages_total += len(new)
        last_uid = await self._fetch_new(imap, account, mailbox, known, new, progress, after_batch)
        await self._finish(mailbox, SyncState(selected.uidvalidity, last_uid, selected.highest_modseq))

    @staticmethod
    async def _new_uids(imap: ImapSession, known: SyncState, selected: SelectedFolder) -> Sequence[int]:
        """The UIDs above the last one stored, as the server lists them (UID SEARCH), not counted up to UIDNEXT:
        UIDNEXT is only the server's word, and UIDNEXT 4294967295 in a folder of one message would be 8.6 million
        empty batches. UIDNEXT (when given) still spares the search when nothing is new."""
        if selected.exists == 0 or 0 < selected.uidnext <= known.last_uid + 1:
            return []
        return await imap.uids(known.last_uid + 1)

    async def _start_over(self, mailbox: Mailbox, selected: SelectedFolder) -> SyncState:
        """A new folder, or UIDVALIDITY changed (RFC 3501 section 2.3.1.1): every stored UID of it is void."""
        state = SyncState(selected.uidvalidity, 0, None)
        async with self._uow as uow:
            if mailbox.sync_state is not None:
                await uow.messages.remove_all(mailbox.id)
            await uow.mailboxes.update(replace(mailbox, sync_state=state))
            await uow.commit()
        return state

    async def _reconcile(
        self, imap: ImapSession, mailbox: Mailbox, known: SyncState, selected: SelectedFolder, new_count: int
    ) -> None:
        """Deletions, then flag changes, for the messages already stored. The stored HIGHESTMODSEQ only moves
        forward after both are applied, or a cut sync would lose them."""
        modseq_unchanged = known.highest_modseq is not None and known.highest_modseq == selected.highest_modseq
        async with self._uow as uow:
            gone = await self._deleted(imap, uow, mailbox, known, selected, modseq_unchanged, new_count)
            await uow.messages.remove_uids(mailbox.id, gone)
            if not modseq_unchanged:
                changed = selected.changed or await imap.fetch_flags(1, changed_since=known.highest_modseq)
                await uow.messages.apply_flags(mailbox.id, [u for u in changed if u.uid <= known.last_uid])
            await uow.commit()

    @staticmethod
    async def _deleted(
        imap: ImapSession,
        uow: UnitOfWork,
        mailbox: Mailbox,
        known: SyncState,
        selected: SelectedFolder,
        modseq_unchanged: bool,
        new_count: int,
    ) -> list[int]:
        """UIDs the server expunged. Stored UIDs are only read, and compared with a UID SEARCH, when neither
        QRESYNC (with a VANISHED report short enough to list) nor the message counts can tell; a re-sync with
        nothing new reads none."""
        if imap.reports_vanished and known.highest_modseq is not None and selected.vanished is not None:
            return selected.vanished
        if modseq_unchanged and selected.vanished is not None:
            return []
        stored_count, _ = await uow.messages.counts(mailbox.id)
        if selected.exists == stored_count + new_count:
            return []
        present = set(await imap.uids())
        return [uid for uid in await uow.messages.uids(mailbox.id) if uid not in present]

    async def _fetch_new(
        self,
        imap: ImapSession,
        account: MailAccount,
        mailbox: Mailbox,
        known: SyncState,
        new: Sequence[int],
        progress: SyncProgress,
        after_batch: AfterBatch,
    ) -> int:
        """Batch by batch, each committed with its last UID so a cut sync resumes after it. A batch is written to
        the database while the next one is fetched and parsed (the database's own work, indexing the text for
        search, then runs on the other core); batches still commit one after the other, in order."""
        size, max_bytes = self._settings.batch_size, self._settings.max_message_bytes
        last_uid = known.last_uid
        writing: asyncio.Task[int] | None = None
        try:
            for start in range(0, len(new), size):
                batch = new[start : start + size]
                prepared = await self._builder.prepare(mailbox.tenant_id, await imap.fetch_messages(batch, max_bytes))
                if writing is not None:
                    progress.messages_fetched += await writing
                    await after_batch()
                writing = asyncio.create_task(self._store(account, mailbox, known, batch[0], batch[-1], prepared))
                last_uid = batch[-1]
            if writing is not None:
                progress.messages_fetched += await writing
                await after_batch()
        finally:
            if writing is not None and not writing.done():
                with suppress(Exception):
                    await writing
        return last_uid

    async def _store(
        self,
        account: MailAccount,
        mailbox: Mailbox,
        known: SyncState,
        first: int,
        batch_end: int,
        prepared: list[Prepared],
    ) -> int:
        """A message Mailroom itself moved here is stored already, under the UID the server reported: skipped."""
        async with self._uow as uow:
            stored = await uow.messages.stored_uids(mailbox.id, first, batch_end)
            messages = await self._builder.build(
                uow, account, mailbox, [p for p in prepared if p.fetched.uid not in stored]
            )
            await uow.messages.add_many(messages)
            state = SyncState(known.uidvalidity, batch_end, known.highest_modseq)
            await uow.mailboxes.update(replace(mailbox, sync_state=state))
            await uow.commit()
        return len(messages)

    async def _finish(self, mailbox: Mailbox, state: SyncState) -> None:
        async with self._uow as uow:
            total, unread = await uow.messages.counts(mailbox.id)
            done = replace(
                mailbox,
                sync_state=state,
                message_count=total,
                unread_count=unread,
                last_synced_at=self._clock.now(),
            )
            await uow.mailboxes.update(done)
            await uow.commit()
