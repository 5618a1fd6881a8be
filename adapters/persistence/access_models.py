"""Tables of per-user access (domain.access): grants on accounts, sign-in sessions with their refresh tokens, API
keys. Each row goes with its user (ON DELETE CASCADE); the secrets are kept only as SHA-256 digests."""

from datetime import datetime
from uuid import UUID

from advanced_alchemy.base import DefaultBase
from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from adapters.persistence.models import TenantModel

_ = TenantModel  # same metadata, and the tables referred to are registered first


class AccountGrantModel(DefaultBase):
    """One user's access to one account of their tenant; the owner needs none (mail_accounts.owner_id)."""

    __tablename__ = "account_grants"
    __table_args__ = (Index("ix_account_grants_tenant_user", "tenant_id", "user_id"),)

    tenant_id: Mapped[UUID] = mapped_column(GUID(length=16), ForeignKey("tenants.id", ondelete="CASCADE"))
    account_id: Mapped[UUID] = mapped_column(
        GUID(length=16), ForeignKey("mail_accounts.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[UUID] = mapped_column(GUID(length=16), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    access: Mapped[str] = mapped_column(String(8))
    granted_by: Mapped[UUID | None] = mapped_column(GUID(length=16), ForeignKey("users.id", ondelete="SET NULL"))
    granted_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))


class SessionModel(DefaultBase):
    __tablename__ = "sessions"

    id: Mapped[UUID] = mapped_column(GUID(length=16), primary_key=True)
    tenant_id: Mapped[UUID] = mapped_column(GUID(length=16), ForeignKey("tenants.id", ondelete="CASCADE"))
    user_id: Mapped[UUID | None] = mapped_column(
        GUID(length=16), ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), index=True)


class RefreshTokenModel(DefaultBase):
    __tablename__ = "refresh_tokens"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[UUID] = mapped_column(GUID(length=16), ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    tenant_id: Mapped[UUID] = mapped_column(GUID(length=16), ForeignKey("tenants.id", ondelete="CASCADE"))
    user_id: Mapped[UUID] = mapped_column(GUID(length=16), ForeignKey("users.id", ondelete="CASCADE"))
    issued_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), index=True)
    used_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))


class ApiKeyModel(DefaultBase):
    __tablename__ = "api_keys"
    __table_args__ = (Index("ix_api_keys_tenant_user", "tenant_id", "user_id"),)

    id: Mapped[UUID] = mapped_column(GUID(length=16), primary_key=True)
    tenant_id: Mapped[UUID] = mapped_column(GUID(length=16), ForeignKey("tenants.id", ondelete="CASCADE"))
    user_id: Mapped[UUID] = mapped_column(GUID(length=16), ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
