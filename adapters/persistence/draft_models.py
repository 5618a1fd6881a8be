"""The drafts table, which is also the outbox: a draft's row carries its send state and lease."""

from datetime import datetime
from typing import Any
from uuid import UUID

from advanced_alchemy.base import UUIDv7AuditBase
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from adapters.persistence.mail_models import JsonB


class DraftModel(UUIDv7AuditBase):
    __tablename__ = "drafts"
    __table_args__ = (
        Index("ix_drafts_tenant_account", "tenant_id", "account_id"),
        Index("ix_drafts_status_due", "status", "due_at"),
    )

    tenant_id: Mapped[UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    account_id: Mapped[UUID] = mapped_column(ForeignKey("mail_accounts.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16))
    sender_name: Mapped[str] = mapped_column(String(200))
    sender_address: Mapped[str] = mapped_column(String(254))
    recipients_to: Mapped[list[dict[str, str]]] = mapped_column(JsonB)
    recipients_cc: Mapped[list[dict[str, str]]] = mapped_column(JsonB)
    recipients_bcc: Mapped[list[dict[str, str]]] = mapped_column(JsonB)
    subject: Mapped[str] = mapped_column(Text)
    text_body: Mapped[str | None] = mapped_column(Text)
    html_body: Mapped[str | None] = mapped_column(Text)
    in_reply_to: Mapped[str | None] = mapped_column(String(998))
    references: Mapped[list[str]] = mapped_column(JsonB)
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JsonB)
    message_id: Mapped[str | None] = mapped_column(String(998))
    date: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    raw_blob_key: Mapped[str | None] = mapped_column(String(128))
    raw_size: Mapped[int | None] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_smtp_reply: Mapped[str | None] = mapped_column(Text)
    send_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    due_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    queued_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    enqueued_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    job_id: Mapped[str | None] = mapped_column(String(64))
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    sent_copy_error: Mapped[str | None] = mapped_column(Text)
