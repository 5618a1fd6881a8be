"""The audit_events table and its repository. Rows are only ever added."""

from datetime import datetime
from uuid import UUID

from advanced_alchemy.base import UUIDv7AuditBase
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import ForeignKey, Index, String, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from adapters.persistence.models import TenantModel
from domain.audit import AuditAction, AuditEvent
from domain.pagination import Page, PageRequest
from domain.ports.persistence import AuditRepository

_ = TenantModel  # same metadata


class AuditEventModel(UUIDv7AuditBase):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_tenant_at", "tenant_id", "at", "id"),)

    tenant_id: Mapped[UUID | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    actor_id: Mapped[UUID | None]
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str | None] = mapped_column(String(320))
    at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    request_id: Mapped[str | None] = mapped_column(String(128))
    client_address: Mapped[str | None] = mapped_column(String(64))


class SqlAuditRepository(AuditRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, event: AuditEvent) -> None:
        self._session.add(
            AuditEventModel(
                id=event.id,
                tenant_id=event.tenant_id,
                actor_id=event.actor_id,
                action=event.action.value,
                target=event.target,
                at=event.at,
                request_id=event.request_id,
                client_address=event.client_address,
            )
        )
        await self._session.flush()

    async def list(self, tenant_id: UUID, page: PageRequest) -> Page[AuditEvent]:
        mine = AuditEventModel.tenant_id == tenant_id
        total = await self._session.scalar(select(func.count()).select_from(AuditEventModel).where(mine))
        rows = await self._session.scalars(
            select(AuditEventModel)
            .where(mine)
            .order_by(AuditEventModel.at.desc(), AuditEventModel.id.desc())
            .limit(page.limit)
            .offset(page.offset)
        )
        return Page(items=[_event(row) for row in rows], total=total or 0)


def _event(row: AuditEventModel) -> AuditEvent:
    return AuditEvent(
        id=row.id,
        tenant_id=row.tenant_id,
        actor_id=row.actor_id,
        action=AuditAction(row.action),
        target=row.target,
        at=row.at,
        request_id=row.request_id,
        client_address=row.client_address,
    )
