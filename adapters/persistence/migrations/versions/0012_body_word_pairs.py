"""Adjacent word pairs of whole messages (Postgres), computed after the sync: a phrase found in bodies from the
messages that hold its pairs, not from every message that holds its words.

A phrase of common words, rare in bodies, matches few of the messages holding both words, and every one of
those had to be read and checked. Their pairs make the candidates the matches. Computing the pairs costs about
as much again as the body's tsvector, which the sync cannot absorb on the database's core, so the pairs are
not computed as messages are stored:

- `message_word_pairs_pending` gets each stored message (a statement trigger on `messages`, which COPY fires
  too: one small row a message);
- a scheduled job (`CatchUpSearchIndex`) moves pending messages into `message_word_pairs`, a batch at a time;
- a search reads the pairs' matches and checks the pending messages in full, so nothing is missed meanwhile;
  while many are pending (after a large first sync), it searches as before.

The pairs are those of `search_vector` (subject, addresses and body, as `@@` sees them), so a message with a
phrase always holds its pairs. Both tables carry the tenant (row-level security, as migration 0008) and the
message's date, so candidates are put newest first before any message row is read, and only as many are
checked as a page needs.

Existing messages are queued here and indexed by the job.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SCOPE = "current_setting('app.tenant_id', true)"
RULE = (  # as migration 0008
    f"CASE WHEN {_SCOPE} = '*' THEN true"
    f" WHEN coalesce({_SCOPE}, '') = '' THEN false"
    f" ELSE tenant_id = {_SCOPE}::uuid END"
)
TABLES = ("message_word_pairs", "message_word_pairs_pending")
QUEUE = """
CREATE FUNCTION mailroom_queue_word_pairs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO message_word_pairs_pending (message_id, tenant_id, internal_date)
  SELECT id, tenant_id, internal_date FROM stored;
  RETURN NULL;
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, extra in [("message_word_pairs", ", pairs text[] NOT NULL"), ("message_word_pairs_pending", "")]:
        op.execute(
            f"CREATE TABLE {name} ("
            " message_id uuid PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,"
            f" tenant_id uuid NOT NULL, internal_date timestamptz NOT NULL{extra})"
        )
    op.execute("CREATE INDEX ix_message_word_pairs ON message_word_pairs USING gin (pairs)")
    op.execute("CREATE INDEX ix_message_word_pairs_pending_tenant ON message_word_pairs_pending (tenant_id)")
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_isolation ON {table} USING ({RULE}) WITH CHECK ({RULE})")
    op.execute(QUEUE)
    op.execute(
        "CREATE TRIGGER queue_word_pairs AFTER INSERT ON messages REFERENCING NEW TABLE AS stored"
        " FOR EACH STATEMENT EXECUTE FUNCTION mailroom_queue_word_pairs()"
    )
    op.execute("SELECT set_config('app.tenant_id', '*', true)")  # every tenant's messages, past row-level security
    op.execute(
        "INSERT INTO message_word_pairs_pending (message_id, tenant_id, internal_date)"
        " SELECT id, tenant_id, internal_date FROM messages"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS queue_word_pairs ON messages")
    op.execute("DROP FUNCTION IF EXISTS mailroom_queue_word_pairs()")
    for table in TABLES:
        op.execute(f"DROP TABLE IF EXISTS {table}")
