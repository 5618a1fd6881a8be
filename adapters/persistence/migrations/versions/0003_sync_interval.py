"""Each account's sync interval.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "mail_accounts", sa.Column("sync_interval_seconds", sa.Integer(), nullable=False, server_default="300")
    )


def downgrade() -> None:
    with op.batch_alter_table("mail_accounts") as batch:
        batch.drop_column("sync_interval_seconds")
