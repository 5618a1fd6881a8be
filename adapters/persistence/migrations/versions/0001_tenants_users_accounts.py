"""Tenants, users and mail accounts.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.Column[object]:
    return sa.Column("id", advanced_alchemy.types.GUID(length=16), nullable=False)


def _audit() -> list[sa.Column[object]]:
    return [
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=False),
    ]


def _tenant_fk(table: str) -> list[sa.Column[object] | sa.ForeignKeyConstraint]:
    return [
        sa.Column("tenant_id", advanced_alchemy.types.GUID(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=f"fk_{table}_tenant_id_tenants", ondelete="CASCADE"
        ),
    ]


def _server(prefix: str) -> list[sa.Column[object]]:
    return [
        sa.Column(f"{prefix}_host", sa.String(253), nullable=False),
        sa.Column(f"{prefix}_port", sa.Integer(), nullable=False),
        sa.Column(f"{prefix}_security", sa.String(16), nullable=False),
        sa.Column(f"{prefix}_username", sa.String(320), nullable=False),
        sa.Column(f"{prefix}_password_key_id", sa.String(32), nullable=False),
        sa.Column(f"{prefix}_password_ciphertext", sa.LargeBinary(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "tenants",
        _id(),
        sa.Column("slug", sa.String(63), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        *_audit(),
        sa.PrimaryKeyConstraint("id", name="pk_tenants"),
        sa.UniqueConstraint("slug", name="uq_tenants_slug"),
    )
    op.create_table(
        "users",
        _id(),
        *_tenant_fk("users"),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        *_audit(),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("tenant_id", "email", name="uq_users_tenant_email"),
    )
    op.create_index("ix_users_tenant_id", "users", ["tenant_id"])
    op.create_table(
        "mail_accounts",
        _id(),
        *_tenant_fk("mail_accounts"),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        *_server("imap"),
        *_server("smtp"),
        *_audit(),
        sa.PrimaryKeyConstraint("id", name="pk_mail_accounts"),
    )
    op.create_index("ix_mail_accounts_tenant_created", "mail_accounts", ["tenant_id", "created_at", "id"])
    op.create_index("ix_mail_accounts_imap_password_key_id", "mail_accounts", ["imap_password_key_id"])
    op.create_index("ix_mail_accounts_smtp_password_key_id", "mail_accounts", ["smtp_password_key_id"])
    op.create_index(
        "uq_mail_accounts_tenant_email", "mail_accounts", ["tenant_id", sa.text("lower(email)")], unique=True
    )


def downgrade() -> None:
    op.drop_table("mail_accounts")
    op.drop_table("users")
    op.drop_table("tenants")
