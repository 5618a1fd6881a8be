"""The body's tsvector, computed more cheaply: `replace` for the four separators instead of `translate`,
and the 200,000-character cut only for bodies that long.

Postgres computes the search vector of every message a sync inserts, on the core the sync's Python does not
use, so its cost can bound how fast a first sync goes. `translate` and `left` both walk the text character by
character, where `replace` searches bytes and `octet_length` is a header read. The vectors are the same.

Changing a generated column's expression means adding it again (Postgres 16 has no SET EXPRESSION): the table
is rewritten, its vectors recomputed and the full-text index rebuilt, in time proportional to the messages.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HEADLINE = (
    "setweight(to_tsvector('simple'::regconfig, translate(subject, '@.+_', '    ')), 'A')"
    " || setweight(to_tsvector('simple'::regconfig, translate(from_text || ' ' || to_text, '@.+_', '    ')), 'B')"
)
BODY_BEFORE = "translate(left(coalesce(text_body, ''), 200000), '@.+_', '    ')"
BODY_AFTER = (
    "replace(replace(replace(replace("
    "CASE WHEN octet_length(text_body) > 200000 THEN left(text_body, 200000) ELSE coalesce(text_body, '') END,"
    " '@', ' '), '.', ' '), '+', ' '), '_', ' ')"
)


def upgrade() -> None:
    _replace_search_vector(BODY_AFTER)


def downgrade() -> None:
    _replace_search_vector(BODY_BEFORE)


def _replace_search_vector(body: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE messages DROP COLUMN search_vector")
    op.execute(
        "ALTER TABLE messages ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
        f"{HEADLINE} || setweight(to_tsvector('simple'::regconfig, {body}), 'D')) STORED,"
        " ALTER COLUMN search_vector SET STORAGE MAIN"
    )
    op.execute("CREATE INDEX ix_messages_search ON messages USING gin (search_vector)")
