"""Blob keys name their tenant, and the blob garbage collection can ask which keys rows still name.

New keys are `<tenant id hex>/<SHA-256 hex>` (97 characters), so the two columns that hold one are widened;
keys stored before this revision (the bare SHA-256) stay valid. On Postgres, widening a varchar changes only
the catalogue, not the rows. SQLite does not enforce a varchar's length, so it needs no change there.
The index on messages.raw_blob_key answers the collector's "which of these keys are still named?" without
reading the table; drafts are few beside messages and are read whole.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("messages", "drafts")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.alter_column(table, "raw_blob_key", type_=sa.String(128), existing_type=sa.String(64))
    op.create_index("ix_messages_raw_blob_key", "messages", ["raw_blob_key"])


def downgrade() -> None:
    op.drop_index("ix_messages_raw_blob_key", table_name="messages")
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.alter_column(table, "raw_blob_key", type_=sa.String(64), existing_type=sa.String(128))
