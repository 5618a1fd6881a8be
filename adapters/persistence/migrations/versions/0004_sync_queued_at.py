"""When a sync was queued, so one whose job was lost can be queued again.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("account_syncs", sa.Column("queued_at", advanced_alchemy.types.DateTimeUTC(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("account_syncs") as batch:
        batch.drop_column("queued_at")
