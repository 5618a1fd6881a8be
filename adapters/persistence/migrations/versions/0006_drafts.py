"""Drafts and the outbox; accounts whose SMTP server files sent mail itself.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_TIME = advanced_alchemy.types.datetime.DateTimeUTC(timezone=True)
_GUID = advanced_alchemy.types.guid.GUID(length=16)


def upgrade() -> None:
    op.add_column(
        "mail_accounts", sa.Column("server_saves_sent", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.create_table(
        "drafts",
        sa.Column("id", _GUID, nullable=False),
        sa.Column("tenant_id", _GUID, nullable=False),
        sa.Column("account_id", _GUID, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("sender_name", sa.String(length=200), nullable=False),
        sa.Column("sender_address", sa.String(length=254), nullable=False),
        sa.Column("recipients_to", _JSON, nullable=False),
        sa.Column("recipients_cc", _JSON, nullable=False),
        sa.Column("recipients_bcc", _JSON, nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("text_body", sa.Text(), nullable=True),
        sa.Column("html_body", sa.Text(), nullable=True),
        sa.Column("in_reply_to", sa.String(length=998), nullable=True),
        sa.Column("references", _JSON, nullable=False),
        sa.Column("attachments", _JSON, nullable=False),
        sa.Column("message_id", sa.String(length=998), nullable=True),
        sa.Column("date", _TIME, nullable=True),
        sa.Column("raw_blob_key", sa.String(length=64), nullable=True),
        sa.Column("raw_size", sa.BigInteger(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_smtp_reply", sa.Text(), nullable=True),
        sa.Column("send_at", _TIME, nullable=True),
        sa.Column("due_at", _TIME, nullable=True),
        sa.Column("queued_at", _TIME, nullable=True),
        sa.Column("enqueued_at", _TIME, nullable=True),
        sa.Column("job_id", sa.String(length=64), nullable=True),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("lease_owner", sa.String(length=128), nullable=True),
        sa.Column("lease_expires_at", _TIME, nullable=True),
        sa.Column("sent_at", _TIME, nullable=True),
        sa.Column("sent_copy_error", sa.Text(), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["mail_accounts.id"], name=op.f("fk_drafts_account_id_mail_accounts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_drafts_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drafts")),
    )
    op.create_index("ix_drafts_tenant_account", "drafts", ["tenant_id", "account_id"])
    op.create_index("ix_drafts_status_due", "drafts", ["status", "due_at"])


def downgrade() -> None:
    op.drop_table("drafts")
    with op.batch_alter_table("mail_accounts") as batch:
        batch.drop_column("server_saves_sent")
