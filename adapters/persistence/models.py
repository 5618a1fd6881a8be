"""SQLAlchemy tables. They live only here; repositories map them to and from domain objects."""

from uuid import UUID

from advanced_alchemy.base import UUIDv7AuditBase
from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint, false, func
from sqlalchemy.orm import Mapped, mapped_column


class TenantModel(UUIDv7AuditBase):
    __tablename__ = "tenants"

    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))


class UserModel(UUIDv7AuditBase):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("tenant_id", "email", name="uq_users_tenant_email"),)

    tenant_id: Mapped[UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    disabled: Mapped[bool] = mapped_column(Boolean, server_default=false())


class MailAccountModel(UUIDv7AuditBase):
    __tablename__ = "mail_accounts"

    tenant_id: Mapped[UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    imap_host: Mapped[str] = mapped_column(String(253))
    imap_port: Mapped[int]
    imap_security: Mapped[str] = mapped_column(String(16))
    imap_username: Mapped[str] = mapped_column(String(320))
    imap_password_key_id: Mapped[str] = mapped_column(String(32), index=True)
    imap_password_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    smtp_host: Mapped[str] = mapped_column(String(253))
    smtp_port: Mapped[int]
    smtp_security: Mapped[str] = mapped_column(String(16))
    smtp_username: Mapped[str] = mapped_column(String(320))
    smtp_password_key_id: Mapped[str] = mapped_column(String(32), index=True)
    smtp_password_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    sync_interval_seconds: Mapped[int] = mapped_column(Integer, server_default="300")
    server_saves_sent: Mapped[bool] = mapped_column(Boolean, server_default=false())
    aliases: Mapped[list[str]] = mapped_column(JSON, server_default="[]")
    owner_id: Mapped[UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    __table_args__ = (
        Index("ix_mail_accounts_tenant_created", "tenant_id", "created_at", "id"),
        Index("ix_mail_accounts_tenant_owner", "tenant_id", "owner_id"),
        Index("uq_mail_accounts_tenant_email", "tenant_id", func.lower(email), unique=True),
    )
