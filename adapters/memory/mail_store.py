"""Fakes of the repositories the sync writes to."""

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from uuid import UUID

from adapters.memory import message_search
from adapters.memory.store import MemoryStore
from domain.errors import Conflict
from domain.mailboxes import Mailbox
from domain.messages import Flags, Message, MessageSummary, summary_of
from domain.ports.persistence import (
    AccountSyncRepository,
    FlagChange,
    MailboxRepository,
    MessageQueries,
    MessageStore,
    SearchIndex,
)
from domain.remote import FlagUpdate
from domain.search import KeysetPage, MessageQuery, PageAfter
from domain.sync import AccountSync, SyncPhase


class MemoryMailboxRepository(MailboxRepository):
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def for_account(self, tenant_id: UUID, account_id: UUID) -> list[Mailbox]:
        found = (m for m in self._store.mailboxes.values() if (m.tenant_id, m.account_id) == (tenant_id, account_id))
        return sorted((replace(m) for m in found), key=lambda m: m.name)

    async def get(self, tenant_id: UUID, mailbox_id: UUID) -> Mailbox | None:
        mailbox = self._store.mailboxes.get(mailbox_id)
        return replace(mailbox) if mailbox and mailbox.tenant_id == tenant_id else None

    async def add(self, mailbox: Mailbox) -> None:
        if any((m.account_id, m.name) == (mailbox.account_id, mailbox.name) for m in self._store.mailboxes.values()):
            raise Conflict(f"folder {mailbox.name} already exists")
        self._store.mailboxes[mailbox.id] = replace(mailbox)

    async def update(self, mailbox: Mailbox) -> None:
        self._store.mailboxes[mailbox.id] = replace(mailbox)

    async def delete(self, tenant_id: UUID, mailbox_id: UUID) -> None:
        mailbox = self._store.mailboxes.get(mailbox_id)
        if mailbox is None or mailbox.tenant_id != tenant_id:
            return
        del self._store.mailboxes[mailbox_id]
        self._store.messages = {k: v for k, v in self._store.messages.items() if k[0] != mailbox_id}


class MemoryMessageStore(MessageStore):
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def add_many(self, messages: Sequence[Message]) -> None:
        keys = [(m.mailbox_id, m.uid) for m in messages]
        if len(set(keys)) != len(keys) or any(key in self._store.messages for key in keys):
            raise Conflict("a message with that UID is already stored")
        self._store.messages.update({key: replace(m) for key, m in zip(keys, messages, strict=True)})

    async def uids(self, mailbox_id: UUID) -> list[int]:
        return sorted(uid for box, uid in self._store.messages if box == mailbox_id)

    async def stored_uids(self, mailbox_id: UUID, first_uid: int, last_uid: int) -> set[int]:
        return {uid for box, uid in self._store.messages if box == mailbox_id and first_uid <= uid <= last_uid}

    async def apply_flags(self, mailbox_id: UUID, updates: Sequence[FlagUpdate]) -> list[FlagChange]:
        changes: list[FlagChange] = []
        for update in sorted(updates, key=lambda u: u.uid):
            stored = self._store.messages.get((mailbox_id, update.uid))
            if stored is not None and stored.flags != update.flags:
                changed = replace(stored, flags=update.flags, modseq=update.modseq)
                self._store.messages[(mailbox_id, update.uid)] = changed
                changes.append(FlagChange(summary_of(changed), stored.flags))
        return changes

    async def remove_uids(self, mailbox_id: UUID, uids: Sequence[int]) -> list[MessageSummary]:
        removed = (self._store.messages.pop((mailbox_id, uid), None) for uid in uids)
        return [summary_of(m) for m in removed if m is not None]

    async def remove_all(self, mailbox_id: UUID) -> None:
        await self.remove_uids(mailbox_id, await self.uids(mailbox_id))

    async def counts(self, mailbox_id: UUID) -> tuple[int, int]:
        found = [m for (box, _), m in self._store.messages.items() if box == mailbox_id]
        return len(found), sum(not m.flags.seen for m in found)

    async def thread_of(self, account_id: UUID, message_ids: Sequence[str]) -> UUID | None:
        wanted = set(message_ids)
        return next(
            (
                m.thread_id
                for m in self._store.messages.values()
                if m.account_id == account_id and m.message_id in wanted
            ),
            None,
        )

    async def set_flags(self, tenant_id: UUID, message_id: UUID, flags: Flags) -> None:
        if found := _find(self._store, tenant_id, message_id):
            self._store.messages[found[0]] = replace(found[1], flags=flags)

    async def relocate(self, tenant_id: UUID, message_id: UUID, mailbox_id: UUID, uid: int) -> None:
        if found := _find(self._store, tenant_id, message_id):
            del self._store.messages[found[0]]
            self._store.messages[(mailbox_id, uid)] = replace(found[1], mailbox_id=mailbox_id, uid=uid)

    async def remove(self, tenant_id: UUID, message_id: UUID) -> None:
        if found := _find(self._store, tenant_id, message_id):
            del self._store.messages[found[0]]


class MemoryMessageQueries(MessageQueries):
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def get(self, tenant_id: UUID, message_id: UUID) -> Message | None:
        found = _find(self._store, tenant_id, message_id)
        return replace(found[1]) if found else None

    async def search(self, query: MessageQuery, page: PageAfter) -> KeysetPage[MessageSummary]:
        return message_search.search(self._store.messages.values(), query, page)

    async def thread(self, tenant_id: UUID, thread_id: UUID) -> list[MessageSummary]:
        found = [m for m in self._store.messages.values() if m.tenant_id == tenant_id and m.thread_id == thread_id]
        return [summary_of(m) for m in sorted(found, key=lambda m: (m.internal_date, m.id))]

    async def with_message_id(self, tenant_id: UUID, account_id: UUID, message_id: str) -> list[Message]:
        return [
            replace(m)
            for m in self._store.messages.values()
            if m.tenant_id == tenant_id and m.account_id == account_id and m.message_id == message_id
        ]


class MemorySearchIndex(SearchIndex):
    async def catch_up(self, batch: int) -> int:
        return 0  # nothing deferred: every search reads all the messages


def _find(store: MemoryStore, tenant_id: UUID, message_id: UUID) -> tuple[tuple[UUID, int], Message] | None:
    return next(
        ((key, m) for key, m in store.messages.items() if m.id == message_id and m.tenant_id == tenant_id),
        None,
    )


class MemoryAccountSyncRepository(AccountSyncRepository):
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def get(self, tenant_id: UUID, account_id: UUID) -> AccountSync | None:
        sync = self._store.syncs.get(account_id)
        return replace(sync) if sync and sync.tenant_id == tenant_id else None

    async def add(self, sync: AccountSync) -> None:
        if sync.account_id in self._store.syncs:
            raise Conflict("the account's sync status was created concurrently")
        await self.save(sync)

    async def save(self, sync: AccountSync) -> None:
        self._store.syncs[sync.account_id] = replace(sync, progress=replace(sync.progress))

    async def due(self, now: datetime) -> list[tuple[UUID, UUID]]:
        return [
            (account.tenant_id, account.id)
            for account in self._store.accounts.values()
            if (sync := self._store.syncs.get(account.id)) is None
            or sync.due(now, timedelta(seconds=account.sync_interval_seconds))
        ]

    async def count_failing_since(self, before: datetime) -> int:
        return sum(1 for s in self._store.syncs.values() if s.failing_since is not None and s.failing_since <= before)

    async def ask_to_run_again(self, account_id: UUID) -> bool:
        sync = self._store.syncs.get(account_id)
        if sync is None or sync.phase is not SyncPhase.RUNNING:
            return False
        self._store.syncs_asked_again.add(account_id)
        return True

    async def take_run_again(self, account_id: UUID) -> bool:
        asked = account_id in self._store.syncs_asked_again
        self._store.syncs_asked_again.discard(account_id)
        return asked

    async def take_lease(self, account_id: UUID, owner: str, now: datetime, ttl: timedelta) -> bool:
        sync = self._store.syncs.get(account_id)
        if sync is None or not (sync.lease_free(now) or sync.lease_owner == owner):
            return False
        self._store.syncs[account_id] = replace(sync, lease_owner=owner, lease_expires_at=now + ttl)
        return True
