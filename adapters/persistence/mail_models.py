"""Tables for synced mail: folders, messages, and each account's sync status and lease."""

from datetime import datetime
from typing import Any
from uuid import UUID

from advanced_alchemy.base import UUIDv7AuditBase
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from adapters.persistence.models import TenantModel

_ = TenantModel  # same metadata; the mail tables point at tenants and mail_accounts

# advanced-alchemy's JsonB does the same, but calls a helper SQLAlchemy 2.1 removed.
JsonB = JSON().with_variant(JSONB(), "postgresql")


class MailboxModel(UUIDv7AuditBase):
    __tablename__ = "mailboxes"
    __table_args__ = (UniqueConstraint("account_id", "name", name="uq_mailboxes_account_name"),)

    tenant_id: Mapped[UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    account_id: Mapped[UUID] = mapped_column(ForeignKey("mail_accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(1000))
    delimiter: Mapped[str | None] = mapped_column(String(8))
    role: Mapped[str | None] = mapped_column(String(16))
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    highest_modseq: Mapped[int | None] = mapped_column(BigInteger)
    message_count: Mapped[int] = mapped_column(Integer, default=0)
    unread_count: Mapped[int] = mapped_column(Integer, default=0)
    last_synced_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    remote_id: Mapped[str | None] = mapped_column(String(255))


class MessageModel(UUIDv7AuditBase):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("mailbox_id", "uid", name="uq_messages_mailbox_uid"),
        Index("ix_messages_tenant_account_date", "tenant_id", "account_id", "internal_date", "id"),
        Index("ix_messages_account_message_id", "account_id", "message_id"),
        Index("ix_messages_thread", "thread_id"),
        Index("ix_messages_mailbox_date", "mailbox_id", "internal_date", "id"),
        Index(
            "ix_messages_tenant_date",
            "tenant_id",
            "internal_date",
            "id",
            postgresql_include=["account_id", "mailbox_id", "seen", "flagged", "has_attachments"],
        ),
        Index("ix_messages_tenant_from", "tenant_id", "from_address", "internal_date"),
        Index("ix_messages_raw_blob_key", "raw_blob_key"),
    )

    tenant_id: Mapped[UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    account_id: Mapped[UUID] = mapped_column(ForeignKey("mail_accounts.id", ondelete="CASCADE"))
    mailbox_id: Mapped[UUID] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"))
    uid: Mapped[int] = mapped_column(BigInteger)
    thread_id: Mapped[UUID]
    message_id: Mapped[str | None] = mapped_column(String(998))
    subject: Mapped[str] = mapped_column(Text)
    sender: Mapped[list[dict[str, str]]] = mapped_column(JsonB)
    recipients_to: Mapped[list[dict[str, str]]] = mapped_column(JsonB)
    recipients_cc: Mapped[list[dict[str, str]]] = mapped_column(JsonB)
    recipients_bcc: Mapped[list[dict[str, str]]] = mapped_column(JsonB)
    reply_to: Mapped[list[dict[str, str]]] = mapped_column(JsonB)
    date: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    internal_date: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    size: Mapped[int] = mapped_column(BigInteger)
    seen: Mapped[bool] = mapped_column(Boolean)
    flagged: Mapped[bool] = mapped_column(Boolean)
    answered: Mapped[bool] = mapped_column(Boolean)
    draft: Mapped[bool] = mapped_column(Boolean)
    deleted: Mapped[bool] = mapped_column(Boolean)
    keywords: Mapped[list[str]] = mapped_column(JsonB)
    modseq: Mapped[int | None] = mapped_column(BigInteger)
    preview: Mapped[str] = mapped_column(String(300))
    text_body: Mapped[str | None] = mapped_column(Text)
    html_body: Mapped[str | None] = mapped_column(Text)
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JsonB)
    has_attachments: Mapped[bool] = mapped_column(Boolean)
    raw_blob_key: Mapped[str | None] = mapped_column(String(128))
    in_reply_to: Mapped[str | None] = mapped_column(String(998))
    references: Mapped[list[str]] = mapped_column(JsonB)
    parse_warnings: Mapped[list[str]] = mapped_column(JsonB)
    from_text: Mapped[str] = mapped_column(Text, server_default="")
    to_text: Mapped[str] = mapped_column(Text, server_default="")
    from_address: Mapped[str] = mapped_column(String(998), server_default="")


class AccountSyncModel(UUIDv7AuditBase):
    __tablename__ = "account_syncs"

    tenant_id: Mapped[UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    account_id: Mapped[UUID] = mapped_column(ForeignKey("mail_accounts.id", ondelete="CASCADE"), unique=True)
    phase: Mapped[str] = mapped_column(String(16))
    job_id: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    folders_done: Mapped[int] = mapped_column(Integer, default=0)
    folders_total: Mapped[int] = mapped_column(Integer, default=0)
    messages_fetched: Mapped[int] = mapped_column(Integer, default=0)
    messages_total: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    queued_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    asked_again: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    first_synced_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    failing_since: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
