"""Search reads the newest messages a window at a time: an index that answers the filters by itself, the
full-text vectors kept in the row, and an index of adjacent word pairs in subjects and addresses.

The tenant/date index now carries the columns of the search filters (account, folder, read, flagged,
attachments), so the newest messages that pass them are found in the index alone, without reading each row.
The two tsvectors are stored MAIN: Postgres then moves the
body text out of the row before them, so checking a candidate against a phrase reads one page, not a TOAST
chunk as well. Rows written before this migration keep their layout until rewritten (VACUUM FULL).

A phrase of common words ("the report") matches few subjects, but the full-text index can only offer every
subject with both words, each to be read and checked. The pairs of adjacent
words of the subject and addresses (`mailroom_word_pairs`, from the positions of the headline vector: a dozen
a message, cheap to keep) make those candidates the matches. Bodies get no such index: their pairs would cost
as much again as their tsvector on every message synced.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FILTER_COLUMNS = ["account_id", "mailbox_id", "seen", "flagged", "has_attachments"]
WORD_PAIRS = """
CREATE FUNCTION mailroom_word_pairs(vector tsvector) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT coalesce(array_agg(first.lexeme || ' ' || second.lexeme), '{}')
  FROM (SELECT lexeme, unnest(positions) AS position FROM unnest(vector)) AS first
  JOIN (SELECT lexeme, unnest(positions) AS position FROM unnest(vector)) AS second
    ON second.position = first.position + 1
$$
"""


def upgrade() -> None:
    op.drop_index("ix_messages_tenant_date", "messages")
    op.create_index(
        "ix_messages_tenant_date",
        "messages",
        ["tenant_id", "internal_date", "id"],
        postgresql_include=FILTER_COLUMNS,
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE messages ALTER COLUMN search_vector SET STORAGE MAIN,"
            " ALTER COLUMN headline_vector SET STORAGE MAIN"
        )
        op.execute(WORD_PAIRS)
        op.execute(
            "CREATE INDEX ix_messages_headline_pairs ON messages USING gin (mailroom_word_pairs(headline_vector))"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_messages_headline_pairs")
        op.execute("DROP FUNCTION IF EXISTS mailroom_word_pairs(tsvector)")
        op.execute(
            "ALTER TABLE messages ALTER COLUMN search_vector SET STORAGE EXTENDED,"
            " ALTER COLUMN headline_vector SET STORAGE EXTENDED"
        )
    op.drop_index("ix_messages_tenant_date", "messages")
    op.create_index("ix_messages_tenant_date", "messages", ["tenant_id", "internal_date", "id"])
