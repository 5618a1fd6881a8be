"""Tables of the change log and the webhooks (domain.changes, domain.webhooks)."""

from datetime import datetime
from typing import Any
from uuid import UUID

from advanced_alchemy.base import DefaultBase, UUIDv7AuditBase
from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column


class ChangeEventModel(DefaultBase):
    """A tenant's events by sequence. No foreign key to the account: its events outlive it (message.deleted and
    the like are what a client needs to hear after an account is gone)."""

    __tablename__ = "change_events"
    __table_args__ = (Index("ix_change_events_created_at", "created_at"),)

    tenant_id: Mapped[UUID] = mapped_column(
        GUID(length=16), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    sequence: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[UUID] = mapped_column(GUID(length=16), unique=True)
    type: Mapped[str] = mapped_column(String(40))
    account_id: Mapped[UUID | None] = mapped_column(GUID(length=16))
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class ChangeCounterModel(DefaultBase):
    """The last sequence given out per tenant, and how far the log was pruned. Taking the next sequences locks
    the tenant's row until the transaction ends, so sequences become visible in the order they were given: a
    reader that has seen event n never later finds an event below n."""

    __tablename__ = "change_counters"

    tenant_id: Mapped[UUID] = mapped_column(
        GUID(length=16), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    last_sequence: Mapped[int] = mapped_column(BigInteger)
    pruned_through: Mapped[int] = mapped_column(BigInteger)


class WebhookModel(UUIDv7AuditBase):
    __tablename__ = "webhooks"

    tenant_id: Mapped[UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    event_types: Mapped[list[str]] = mapped_column(JSON)
    account_ids: Mapped[list[str] | None] = mapped_column(JSON)
    description: Mapped[str] = mapped_column(String(500))
    secret_key_id: Mapped[str] = mapped_column(String(32))
    secret_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    cursor: Mapped[int] = mapped_column(BigInteger)
    enabled: Mapped[bool] = mapped_column(Boolean)
    disabled_reason: Mapped[str | None] = mapped_column(String(500))
    owner_id: Mapped[UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))


class WebhookDeliveryModel(UUIDv7AuditBase):
    """`next_attempt_at` is also the claim: a dispatcher moves it to the end of its lease when it takes the
    delivery, so a dispatcher that dies leaves it due again when the lease ends."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_due", "tenant_id", "status", "next_attempt_at"),)

    tenant_id: Mapped[UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    webhook_id: Mapped[UUID] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"), index=True)
    sequence: Mapped[int] = mapped_column(BigInteger)
    event_id: Mapped[UUID] = mapped_column(GUID(length=16))
    event_type: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))


class WebhookAttemptModel(UUIDv7AuditBase):
    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_webhook", "webhook_id", "id"),)

    tenant_id: Mapped[UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    webhook_id: Mapped[UUID] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    delivery_id: Mapped[UUID] = mapped_column(ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[UUID] = mapped_column(GUID(length=16))
    event_type: Mapped[str] = mapped_column(String(40))
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    status_code: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(500))
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))


class WatchLeaseModel(DefaultBase):
    """Which process watches an account's inbox, until when (domain.ports.persistence.WatchLeaseRepository)."""

    __tablename__ = "watch_leases"

    account_id: Mapped[UUID] = mapped_column(
        GUID(length=16), ForeignKey("mail_accounts.id", ondelete="CASCADE"), primary_key=True
    )
    tenant_id: Mapped[UUID] = mapped_column(GUID(length=16), ForeignKey("tenants.id", ondelete="CASCADE"))
    owner: Mapped[str] = mapped_column(String(128), index=True)
    expires_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
