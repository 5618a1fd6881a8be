from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec

from application.sync.status import SyncStatus
from domain.mailboxes import Mailbox, MailboxRole
from domain.sync import AccountSync, SyncPhase


class SyncQueued(msgspec.Struct):
    job_id: str | None
    status: SyncPhase


class Progress(msgspec.Struct):
    folders_done: int
    folders_total: int
    messages_fetched: int
    messages_total: int


class FolderOut(msgspec.Struct):
    id: UUID
    name: str
    role: MailboxRole | None
    uidvalidity: int | None
    message_count: int
    unread_count: int
    last_synced_at: datetime | None

    @classmethod
    def of(cls, mailbox: Mailbox) -> "FolderOut":
        return cls(
            id=mailbox.id,
            name=mailbox.name,
            role=mailbox.role,
            uidvalidity=mailbox.sync_state.uidvalidity if mailbox.sync_state else None,
            message_count=mailbox.message_count,
            unread_count=mailbox.unread_count,
            last_synced_at=mailbox.last_synced_at,
        )


class SyncStatusOut(msgspec.Struct):
    state: SyncPhase
    job_id: str | None
    started_at: datetime | None
    finished_at: datetime | None
    last_error: str | None
    progress: Progress
    folders: list[FolderOut]
    reauth_required: Annotated[
        bool,
        msgspec.Meta(
            description="the account's OAuth2 grant was refused for good: no sync or send is tried until its user "
            "signs in again (`POST /api/oauth/{provider}/start`) or new tokens are given"
        ),
    ] = False

    @classmethod
    def of(cls, status: SyncStatus) -> "SyncStatusOut":
        sync: AccountSync = status.sync
        p = sync.progress
        return cls(
            state=sync.phase,
            job_id=sync.job_id,
            started_at=sync.started_at,
            finished_at=sync.finished_at,
            last_error=sync.last_error,
            progress=Progress(p.folders_done, p.folders_total, p.messages_fetched, p.messages_total),
            folders=[FolderOut.of(m) for m in status.folders],
            reauth_required=status.reauth_required,
        )
