"""Drafts in SQL. The outbox's state changes are conditional UPDATEs, so two workers (or a worker and a user)
racing for one draft cannot both win."""

from datetime import datetime, timedelta
from typing import Any, cast
from uuid import UUID

from sqlalchemy import CursorResult, Table, and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.persistence.draft_models import DraftModel
from domain.drafts import SEND_PATIENCE, Draft, DraftAttachment, DraftContent, DraftStatus, Outgoing
from domain.messages import Address
from domain.ports.persistence import DraftRepository

_DRAFTS = cast("Table", DraftModel.__table__)


class SqlDraftRepository(DraftRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, tenant_id: UUID, draft_id: UUID) -> Draft | None:
        row = await self._session.get(DraftModel, draft_id, populate_existing=True)
        return draft_from_row(row) if row is not None and row.tenant_id == tenant_id else None

    async def add(self, draft: Draft) -> None:
        self._session.add(DraftModel(**draft_columns(draft)))
        await self._session.flush()

    async def update(self, draft: Draft, *, expected: DraftStatus, owner: str | None = None) -> bool:
        condition = and_(_DRAFTS.c.id == draft.id, _DRAFTS.c.tenant_id == draft.tenant_id)
        condition = and_(condition, _DRAFTS.c.status == expected.value)
        if owner is not None:
            condition = and_(condition, _DRAFTS.c.lease_owner == owner)
        values = draft_columns(draft)
        del values["id"], values["created_at"]
        return await self._changed(update(_DRAFTS).where(condition).values(**values))

    async def delete(self, tenant_id: UUID, draft_id: UUID) -> bool:
        return await self._changed(
            delete(_DRAFTS).where(
                _DRAFTS.c.id == draft_id,
                _DRAFTS.c.tenant_id == tenant_id,
                _DRAFTS.c.status != DraftStatus.SENDING.value,
            )
        )

    async def claim(self, draft_id: UUID, owner: str, now: datetime, ttl: timedelta) -> bool:
        due = and_(_DRAFTS.c.status == DraftStatus.QUEUED.value, _DRAFTS.c.due_at <= now)
        abandoned = and_(
            _DRAFTS.c.status == DraftStatus.SENDING.value,
            or_(_DRAFTS.c.lease_expires_at.is_(None), _DRAFTS.c.lease_expires_at <= now),
        )
        return await self._changed(
            update(_DRAFTS)
            .where(_DRAFTS.c.id == draft_id, or_(due, abandoned))
            .values(
                status=DraftStatus.SENDING.value,
                lease_owner=owner,
                lease_expires_at=now + ttl,
                attempts=_DRAFTS.c.attempts + 1,
                updated_at=now,
            )
        )

    async def needing_jobs(self, now: datetime, limit: int) -> list[tuple[UUID, UUID]]:
        """The domain's rule (Draft.needs_job) in SQL, so the scheduler never loads the whole outbox."""
        queued = and_(
            _DRAFTS.c.status == DraftStatus.QUEUED.value,
            _DRAFTS.c.due_at <= now,
            or_(_DRAFTS.c.enqueued_at.is_(None), _DRAFTS.c.enqueued_at <= now - SEND_PATIENCE),
        )
        abandoned = and_(
            _DRAFTS.c.status == DraftStatus.SENDING.value,
            or_(_DRAFTS.c.lease_expires_at.is_(None), _DRAFTS.c.lease_expires_at <= now),
        )
        rows = await self._session.execute(
            select(_DRAFTS.c.tenant_id, _DRAFTS.c.id)
            .where(or_(queued, abandoned))
            .order_by(_DRAFTS.c.due_at)
            .limit(limit)
        )
        return [(tenant_id, draft_id) for tenant_id, draft_id in rows.all()]

    async def mark_enqueued(self, draft_id: UUID, now: datetime) -> None:
        await self._session.execute(update(_DRAFTS).where(_DRAFTS.c.id == draft_id).values(enqueued_at=now))

    async def _changed(self, statement: Any) -> bool:
        result = await self._session.execute(statement)
        self._session.expire_all()
        return bool(cast("CursorResult[Any]", result).rowcount)


def _addresses(addresses: tuple[Address, ...]) -> list[dict[str, str]]:
    return [{"name": a.name, "address": a.address} for a in addresses]


def _from_json(items: list[dict[str, str]]) -> tuple[Address, ...]:
    return tuple(Address(item["name"], item["address"]) for item in items)


def draft_columns(draft: Draft) -> dict[str, Any]:
    content, outgoing = draft.content, draft.outgoing
    return {
        "id": draft.id,
        "tenant_id": draft.tenant_id,
        "account_id": draft.account_id,
        "status": draft.status.value,
        "sender_name": content.sender.name,
        "sender_address": content.sender.address,
        "recipients_to": _addresses(content.to),
        "recipients_cc": _addresses(content.cc),
        "recipients_bcc": _addresses(content.bcc),
        "subject": content.subject,
        "text_body": content.text,
        "html_body": content.html,
        "in_reply_to": content.in_reply_to,
        "references": list(content.references),
        "attachments": [
            {
                "id": str(a.id),
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.size,
                "blob": a.blob_key,
            }
            for a in content.attachments
        ],
        "message_id": outgoing.message_id if outgoing else None,
        "date": outgoing.date if outgoing else None,
        "raw_blob_key": outgoing.blob_key if outgoing else None,
        "raw_size": outgoing.size if outgoing else None,
        "attempts": draft.attempts,
        "last_smtp_reply": draft.last_smtp_reply,
        "send_at": draft.send_at,
        "due_at": draft.due_at,
        "queued_at": draft.queued_at,
        "enqueued_at": draft.enqueued_at,
        "job_id": draft.job_id,
        "idempotency_key": draft.idempotency_key,
        "lease_owner": draft.lease_owner,
        "lease_expires_at": draft.lease_expires_at,
        "sent_at": draft.sent_at,
        "sent_copy_error": draft.sent_copy_error,
        "created_at": draft.created_at,
        "updated_at": draft.updated_at,
    }


def draft_from_row(row: DraftModel) -> Draft:
    content = DraftContent(
        sender=Address(row.sender_name, row.sender_address),
        to=_from_json(row.recipients_to),
        cc=_from_json(row.recipients_cc),
        bcc=_from_json(row.recipients_bcc),
        subject=row.subject,
        text=row.text_body,
        html=row.html_body,
        in_reply_to=row.in_reply_to,
        references=tuple(row.references),
        attachments=tuple(
            DraftAttachment(UUID(a["id"]), a["filename"], a["content_type"], a["size"], a["blob"])
            for a in row.attachments
        ),
    )
    outgoing = None
    if row.message_id is not None and row.date is not None and row.raw_blob_key is not None:
        outgoing = Outgoing(row.message_id, row.date, row.raw_blob_key, row.raw_size or 0)
    return Draft(
        id=row.id,
        tenant_id=row.tenant_id,
        account_id=row.account_id,
        content=content,
        created_at=row.created_at,
        updated_at=row.updated_at,
        status=DraftStatus(row.status),
        outgoing=outgoing,
        attempts=row.attempts,
        last_smtp_reply=row.last_smtp_reply,
        send_at=row.send_at,
        due_at=row.due_at,
        queued_at=row.queued_at,
        enqueued_at=row.enqueued_at,
        job_id=row.job_id,
        idempotency_key=row.idempotency_key,
        lease_owner=row.lease_owner,
        lease_expires_at=row.lease_expires_at,
        sent_at=row.sent_at,
        sent_copy_error=row.sent_copy_error,
    )
