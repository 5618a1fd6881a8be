"""SQLAlchemy tables. They live only here; repositories map them to and from domain objects."""

from datetime import datetime
from uuid import UUID

from advanced_alchemy.base import DefaultBase, UUIDv7AuditBase
from advanced_alchemy.types import GUID, DateTimeUTC
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
    imap_auth: Mapped[str] = mapped_column(String(16), server_default="password")
    """`password`, or `oauth2`: then the password columns are empty and the account's oauth_grants row signs in."""
    imap_password_key_id: Mapped[str] = mapped_column(String(32), index=True)
    imap_password_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    smtp_host: Mapped[str] = mapped_column(String(253))
    smtp_port: Mapped[int]
    smtp_security: Mapped[str] = mapped_column(String(16))
    smtp_username: Mapped[str] = mapped_column(String(320))
    smtp_auth: Mapped[str] = mapped_column(String(16), server_default="password")
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


class OAuthGrantModel(DefaultBase):
    """An account's OAuth2 grant (domain.oauth), in a row of its own so that writing the account never writes back
    tokens a renewal has replaced; renewals lock this row."""

    __tablename__ = "oauth_grants"

    account_id: Mapped[UUID] = mapped_column(
        GUID(length=16), ForeignKey("mail_accounts.id", ondelete="CASCADE"), primary_key=True
    )
    tenant_id: Mapped[UUID] = mapped_column(GUID(length=16), ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(64))
    access_key_id: Mapped[str] = mapped_column(String(32))
    access_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    refresh_key_id: Mapped[str | None] = mapped_column(String(32))
    refresh_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    reauth_required: Mapped[bool] = mapped_column(Boolean, server_default=false())
    updated_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    renewing_until: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    renewed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
