from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast
from uuid import UUID

from sqlalchemy import CursorResult, Table, Text, bindparam, case, delete, func, or_, select, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.persistence import message_search
from adapters.persistence.bulk import DuplicateRow, insert_rows
from adapters.persistence.mail_mappers import (
    SUMMARY_COLUMNS,
    copy_mailbox_to_row,
    copy_sync_to_row,
    flag_columns,
    flags_from_columns,
    mailbox_from_row,
    message_from_row,
    message_row,
    summary_from_row,
    sync_from_row,
)
from adapters.persistence.mail_models import AccountSyncModel, MailboxModel, MessageModel
from adapters.persistence.message_search import SearchTuning
from adapters.persistence.models import MailAccountModel
from domain.errors import Conflict
from domain.mailboxes import Mailbox
from domain.messages import Flags, Message, MessageSummary
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

_CHUNK = 1000
_FLAG_COLUMNS = [MessageModel.__table__.c[name] for name in ("seen", "flagged", "answered", "draft", "deleted")] + [
    sql_cast(MessageModel.__table__.c.keywords, Text)
]
# Core tables for the bulk UPDATEs, which address rows by (mailbox, uid) or account rather than primary key.
_MESSAGES = cast("Table", MessageModel.__table__)
_SYNCS = cast("Table", AccountSyncModel.__table__)


class SqlMailboxRepository(MailboxRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def for_account(self, tenant_id: UUID, account_id: UUID) -> list[Mailbox]:
        rows = await self._session.scalars(
            select(MailboxModel)
            .where(MailboxModel.tenant_id == tenant_id, MailboxModel.account_id == account_id)
            .order_by(MailboxModel.name)
        )
        return [mailbox_from_row(row) for row in rows]

    async def get(self, tenant_id: UUID, mailbox_id: UUID) -> Mailbox | None:
        row = await self._session.get(MailboxModel, mailbox_id)
        return mailbox_from_row(row) if row is not None and row.tenant_id == tenant_id else None

    async def add(self, mailbox: Mailbox) -> None:
        self._session.add(copy_mailbox_to_row(mailbox, MailboxModel()))
        await self._session.flush()

    async def update(self, mailbox: Mailbox) -> None:
        row = await self._session.get(MailboxModel, mailbox.id)
        if row is not None and row.tenant_id == mailbox.tenant_id:
            copy_mailbox_to_row(mailbox, row)
            await self._session.flush()

    async def delete(self, tenant_id: UUID, mailbox_id: UUID) -> None:
        """Its messages go with it: messages.mailbox_id cascades (SQLite has foreign keys on, see database.py)."""
        await self._session.execute(
            delete(MailboxModel).where(MailboxModel.id == mailbox_id, MailboxModel.tenant_id == tenant_id)
        )


class SqlMessageStore(MessageStore):
    """Bulk statements: a sync writes messages, flags and deletions by the thousand."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_many(self, messages: Sequence[Message]) -> None:
        if not messages:
            return
        try:
            await insert_rows(self._session, _MESSAGES, [message_row(m) for m in messages])
        except DuplicateRow:
            raise Conflict("a message with that UID is already stored") from None

    async def uids(self, mailbox_id: UUID) -> list[int]:
        rows = await self._session.scalars(
            select(MessageModel.uid).where(MessageModel.mailbox_id == mailbox_id).order_by(MessageModel.uid)
        )
        return list(rows)

    async def stored_uids(self, mailbox_id: UUID, first_uid: int, last_uid: int) -> set[int]:
        rows = await self._session.scalars(
            select(MessageModel.uid).where(
                MessageModel.mailbox_id == mailbox_id, MessageModel.uid.between(first_uid, last_uid)
            )
        )
        return set(rows)

    async def apply_flags(self, mailbox_id: UUID, updates: Sequence[FlagUpdate]) -> list[FlagChange]:
        """Reads the stored flags first and writes only the rows that differ: a server without CONDSTORE reports
        every message's flags on each sync, and most have not changed."""
        wanted = {u.uid: u for u in updates}
        uids = sorted(wanted)
        differing: list[FlagUpdate] = []
        before: dict[int, Flags] = {}
        for start in range(0, len(uids), _CHUNK):
            rows = await self._session.execute(
                select(MessageModel.uid, *_FLAG_COLUMNS).where(
                    MessageModel.mailbox_id == mailbox_id, MessageModel.uid.in_(uids[start : start + _CHUNK])
                )
            )
            for uid, *columns in rows:
                stored = flags_from_columns(*columns)
                if stored != wanted[uid].flags:
                    differing.append(wanted[uid])
                    before[uid] = stored
        if not differing:
            return []
        statement = (
            update(_MESSAGES)
            .where(_MESSAGES.c.mailbox_id == bindparam("b_mailbox"))
            .where(_MESSAGES.c.uid == bindparam("b_uid"))
            .values({name: bindparam(f"b_{name}") for name in [*flag_columns(differing[0].flags), "modseq"]})
        )
        rows_to_write = [
            {"b_mailbox": mailbox_id, "b_uid": u.uid, "b_modseq": u.modseq}
            | {f"b_{k}": v for k, v in flag_columns(u.flags).items()}
            for u in differing
        ]
        connection = await self._session.connection()
        await connection.execute(statement, rows_to_write)
        changed = sorted(before)
        result: list[FlagChange] = []
        for start in range(0, len(changed), _CHUNK):
            rows = await self._session.execute(
                select(*SUMMARY_COLUMNS, MessageModel.uid).where(
                    MessageModel.mailbox_id == mailbox_id, MessageModel.uid.in_(changed[start : start + _CHUNK])
                )
            )
            result.extend(FlagChange(summary_from_row(row), before[row[-1]]) for row in rows)
        return result

    async def remove_uids(self, mailbox_id: UUID, uids: Sequence[int]) -> list[MessageSummary]:
        removed: list[MessageSummary] = []
        for start in range(0, len(uids), _CHUNK):
            chunk = list(uids[start : start + _CHUNK])
            where = (MessageModel.mailbox_id == mailbox_id, MessageModel.uid.in_(chunk))
            rows = await self._session.execute(select(*SUMMARY_COLUMNS).where(*where))
            removed.extend(summary_from_row(row) for row in rows)
            await self._session.execute(delete(MessageModel).where(*where))
        return removed

    async def remove_all(self, mailbox_id: UUID) -> None:
        await self._session.execute(delete(MessageModel).where(MessageModel.mailbox_id == mailbox_id))

    async def counts(self, mailbox_id: UUID) -> tuple[int, int]:
        unread = func.sum(case((MessageModel.seen.is_(False), 1), else_=0))
        total, unseen = (
            await self._session.execute(
                select(func.count(), func.coalesce(unread, 0)).where(MessageModel.mailbox_id == mailbox_id)
            )
        ).one()
        return int(total), int(unseen)

    async def thread_of(self, account_id: UUID, message_ids: Sequence[str]) -> UUID | None:
        if not message_ids:
            return None
        return await self._session.scalar(
            select(MessageModel.thread_id)
            .where(MessageModel.account_id == account_id, MessageModel.message_id.in_(list(message_ids)))
            .limit(1)
        )

    async def set_flags(self, tenant_id: UUID, message_id: UUID, flags: Flags) -> None:
        await self._session.execute(
            update(MessageModel)
            .where(MessageModel.id == message_id, MessageModel.tenant_id == tenant_id)
            .values(**flag_columns(flags))
        )

    async def relocate(self, tenant_id: UUID, message_id: UUID, mailbox_id: UUID, uid: int) -> None:
        await self._session.execute(
            update(MessageModel)
            .where(MessageModel.id == message_id, MessageModel.tenant_id == tenant_id)
            .values(mailbox_id=mailbox_id, uid=uid)
        )

    async def remove(self, tenant_id: UUID, message_id: UUID) -> None:
        await self._session.execute(
            delete(MessageModel).where(MessageModel.id == message_id, MessageModel.tenant_id == tenant_id)
        )


class SqlMessageQueries(MessageQueries):
    def __init__(self, session: AsyncSession, search_tuning: SearchTuning) -> None:
        self._session = session
        self._search_tuning = search_tuning

    async def get(self, tenant_id: UUID, message_id: UUID) -> Message | None:
        row = await self._session.get(MessageModel, message_id)
        return message_from_row(row) if row is not None and row.tenant_id == tenant_id else None

    async def search(self, query: MessageQuery, page: PageAfter) -> KeysetPage[MessageSummary]:
        return await message_search.search(self._session, query, page, self._search_tuning)

    async def thread(self, tenant_id: UUID, thread_id: UUID) -> list[MessageSummary]:
        rows = await self._session.execute(
            select(*SUMMARY_COLUMNS)
            .where(MessageModel.tenant_id == tenant_id, MessageModel.thread_id == thread_id)
            .order_by(MessageModel.internal_date, MessageModel.id)
        )
        return [summary_from_row(row) for row in rows]

    async def with_message_id(self, tenant_id: UUID, account_id: UUID, message_id: str) -> list[Message]:
        rows = await self._session.scalars(
            select(MessageModel).where(
                MessageModel.tenant_id == tenant_id,
                MessageModel.account_id == account_id,
                MessageModel.message_id == message_id,
            )
        )
        return [message_from_row(row) for row in rows]


class SqlSearchIndex(SearchIndex):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def catch_up(self, batch: int) -> int:
        return await message_search.index_word_pairs(self._session, batch)


class SqlAccountSyncRepository(AccountSyncRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, tenant_id: UUID, account_id: UUID) -> AccountSync | None:
        row = await self._row(account_id)
        return sync_from_row(row) if row and row.tenant_id == tenant_id else None

    async def add(self, sync: AccountSync) -> None:
        self._session.add(copy_sync_to_row(sync, AccountSyncModel()))
        await self._flush()

    async def save(self, sync: AccountSync) -> None:
        row = await self._row(sync.account_id)
        if row is None:
            self._session.add(copy_sync_to_row(sync, AccountSyncModel()))
        elif row.tenant_id == sync.tenant_id:
            copy_sync_to_row(sync, row)
        await self._flush()

    async def due(self, now: datetime) -> list[tuple[UUID, UUID]]:
        """Every account with its sync status, judged by the domain's rule (AccountSync.due): date arithmetic
        in SQL differs between SQLite and Postgres, and the scheduler asks once a minute."""
        rows = await self._session.execute(
            select(
                MailAccountModel.tenant_id,
                MailAccountModel.id,
                MailAccountModel.sync_interval_seconds,
                AccountSyncModel,
            ).outerjoin(AccountSyncModel, AccountSyncModel.account_id == MailAccountModel.id)
        )
        return [
            (tenant_id, account_id)
            for tenant_id, account_id, interval, sync in rows.all()
            if sync is None or sync_from_row(sync).due(now, timedelta(seconds=interval))
        ]

    async def count_failing_since(self, before: datetime) -> int:
        failing = select(func.count()).where(_SYNCS.c.failing_since <= before)
        return int(await self._session.scalar(failing) or 0)

    async def ask_to_run_again(self, account_id: UUID) -> bool:
        """One conditional UPDATE: a sync that ends meanwhile has its row locked until it commits, and then no
        longer matches, so the request queues a new sync instead."""
        table = _SYNCS
        result = await self._session.execute(
            update(table)
            .where(table.c.account_id == account_id, table.c.phase == SyncPhase.RUNNING.value)
            .values(asked_again=True)
        )
        self._session.expire_all()
        return bool(cast("CursorResult[Any]", result).rowcount)

    async def take_run_again(self, account_id: UUID) -> bool:
        table = _SYNCS
        result = await self._session.execute(
            update(table).where(table.c.account_id == account_id, table.c.asked_again).values(asked_again=False)
        )
        return bool(cast("CursorResult[Any]", result).rowcount)

    async def take_lease(self, account_id: UUID, owner: str, now: datetime, ttl: timedelta) -> bool:
        """One conditional UPDATE, so two workers racing for the lease cannot both win."""
        table = _SYNCS
        result = await self._session.execute(
            update(table)
            .where(table.c.account_id == account_id)
            .where(
                or_(
                    table.c.lease_owner.is_(None),
                    table.c.lease_owner == owner,
                    table.c.lease_expires_at.is_(None),
                    table.c.lease_expires_at <= now,
                )
            )
            .values(lease_owner=owner, lease_expires_at=now + ttl)
        )
        self._session.expire_all()
        return bool(cast("CursorResult[Any]", result).rowcount)

    async def _row(self, account_id: UUID) -> AccountSyncModel | None:
        return await self._session.scalar(select(AccountSyncModel).where(AccountSyncModel.account_id == account_id))

    async def _flush(self) -> None:
        try:
            await self._session.flush()
        except IntegrityError:
            raise Conflict("the account's sync status was created concurrently") from None
