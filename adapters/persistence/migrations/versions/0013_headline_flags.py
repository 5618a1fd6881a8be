"""The subject-and-address index also holds each message's seen, flagged and has-attachments flags (Postgres,
with btree_gin), so a search that filters on them reads only the rows that pass.

A word common in subjects, searched with `unread=false&has_attachments=true` and a date range, found thousands
of messages in the index and read every row to keep the few that pass the filters. With the flags in the
index, the index itself drops the rest before any row is read. Booleans cannot be GIN
keys, so the index holds them as integers (`seen::int`), and searches state the condition the same way
(adapters.persistence.message_search). btree_gin ships with Postgres and is a trusted extension: the database's
owner, who runs the migrations, may create it.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FLAGS = "(seen::int), (flagged::int), (has_attachments::int)"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
    op.execute("DROP INDEX ix_messages_headline")
    op.execute(f"CREATE INDEX ix_messages_headline ON messages USING gin (headline_vector, {FLAGS})")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX ix_messages_headline")
    op.execute("CREATE INDEX ix_messages_headline ON messages USING gin (headline_vector)")
