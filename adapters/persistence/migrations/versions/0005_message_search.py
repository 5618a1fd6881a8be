"""Full-text search and the indexes of the message lists.

Postgres: a tsvector kept by the database (a generated column, 'simple' configuration so mail in any language is
found, the body cut at 200,000 characters to stay under tsvector's 1 MB), a GIN index on it, and trigram indexes
for the parts-of-an-address and subject filters. The text is split at @ . + _ first, as FTS5 splits it: Postgres's
parser would keep zoe@example.org or example.org as one token, and "zoe" would not find it. The search string is
split the same way (adapters/persistence/message_search.py). Results are ranked by a second, small vector of the
subject and addresses: ranking by the whole one reads every match's body vector from TOAST. `from_address` (the
first sender's, lower-cased) makes a whole-address `from` filter an index lookup.

SQLite: an FTS5 table over the same text, kept by triggers.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("messages", sa.Column("from_text", sa.Text(), nullable=False, server_default=""))
    op.add_column("messages", sa.Column("to_text", sa.Text(), nullable=False, server_default=""))
    op.add_column("messages", sa.Column("from_address", sa.String(998), nullable=False, server_default=""))
    op.create_index("ix_messages_tenant_from", "messages", ["tenant_id", "from_address", "internal_date"])
    op.create_index("ix_messages_mailbox_date", "messages", ["mailbox_id", "internal_date", "id"])
    op.create_index("ix_messages_tenant_date", "messages", ["tenant_id", "internal_date", "id"])
    if op.get_bind().dialect.name == "postgresql":
        _postgres()
    else:
        _sqlite()


def _postgres() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    # A folder belongs to one account of one tenant; without this the planner multiplies the three filters'
    # selectivities, expects a few rows where there are thousands, and picks a bitmap plan made for a few rows.
    op.execute(
        "CREATE STATISTICS messages_owner_dependencies (dependencies)"
        " ON tenant_id, account_id, mailbox_id FROM messages"
    )
    op.execute(
        "ALTER TABLE messages ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
        " setweight(to_tsvector('simple'::regconfig, translate(subject, '@.+_', '    ')), 'A')"
        " || setweight(to_tsvector('simple'::regconfig, translate(from_text || ' ' || to_text, '@.+_', '    ')), 'B')"
        " || setweight(to_tsvector('simple'::regconfig,"
        "    translate(left(coalesce(text_body, ''), 200000), '@.+_', '    ')), 'D')"
        ") STORED"
    )
    op.execute(
        "ALTER TABLE messages ADD COLUMN headline_vector tsvector GENERATED ALWAYS AS ("
        " setweight(to_tsvector('simple'::regconfig, translate(subject, '@.+_', '    ')), 'A')"
        " || setweight(to_tsvector('simple'::regconfig, translate(from_text || ' ' || to_text, '@.+_', '    ')), 'B')"
        ") STORED"
    )
    op.execute("CREATE INDEX ix_messages_search ON messages USING gin (search_vector)")
    op.execute("CREATE INDEX ix_messages_headline ON messages USING gin (headline_vector)")
    op.execute("CREATE INDEX ix_messages_from_trgm ON messages USING gin (from_text gin_trgm_ops)")
    op.execute("CREATE INDEX ix_messages_to_trgm ON messages USING gin (to_text gin_trgm_ops)")
    op.execute("CREATE INDEX ix_messages_subject_trgm ON messages USING gin (lower(subject) gin_trgm_ops)")


def _sqlite() -> None:
    op.execute(
        "CREATE VIRTUAL TABLE messages_fts USING fts5(subject, from_text, to_text, text_body,"
        " content='messages', content_rowid='rowid', tokenize='unicode61 remove_diacritics 0')"
    )
    op.execute(
        "CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN"
        " INSERT INTO messages_fts(rowid, subject, from_text, to_text, text_body)"
        " VALUES (new.rowid, new.subject, new.from_text, new.to_text, new.text_body); END"
    )
    op.execute(
        "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN"
        " INSERT INTO messages_fts(messages_fts, rowid, subject, from_text, to_text, text_body)"
        " VALUES ('delete', old.rowid, old.subject, old.from_text, old.to_text, old.text_body); END"
    )
    op.execute(
        "CREATE TRIGGER messages_fts_update AFTER UPDATE OF subject, from_text, to_text, text_body ON messages BEGIN"
        " INSERT INTO messages_fts(messages_fts, rowid, subject, from_text, to_text, text_body)"
        " VALUES ('delete', old.rowid, old.subject, old.from_text, old.to_text, old.text_body);"
        " INSERT INTO messages_fts(rowid, subject, from_text, to_text, text_body)"
        " VALUES (new.rowid, new.subject, new.from_text, new.to_text, new.text_body); END"
    )
    op.execute("INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for index in (
            "ix_messages_search",
            "ix_messages_headline",
            "ix_messages_from_trgm",
            "ix_messages_to_trgm",
            "ix_messages_subject_trgm",
        ):
            op.execute(f"DROP INDEX IF EXISTS {index}")
        op.execute("DROP STATISTICS IF EXISTS messages_owner_dependencies")
        op.execute("ALTER TABLE messages DROP COLUMN search_vector")
        op.execute("ALTER TABLE messages DROP COLUMN headline_vector")
    else:
        for trigger in ("messages_fts_insert", "messages_fts_delete", "messages_fts_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS messages_fts")
    op.drop_index("ix_messages_tenant_from", "messages")
    op.drop_index("ix_messages_tenant_date", "messages")
    op.drop_index("ix_messages_mailbox_date", "messages")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("from_address")
        batch.drop_column("to_text")
        batch.drop_column("from_text")
