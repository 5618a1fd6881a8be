"""Row-level security on every tenant-owned table (Postgres): a second lock behind the repositories' filters.

A session sees and writes only rows of the tenant in `app.tenant_id` (set at the start of each transaction by
the unit of work), or every row when it is `*` (the few cross-tenant paths). Unset, it sees none. FORCE applies
the policies to the tables' owner too; only superusers and BYPASSRLS roles pass them, so the service must not
connect as one (docs: README, "Running it safely"; docs/architecture.md, tenancy).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("users", "mail_accounts", "mailboxes", "messages", "account_syncs", "drafts", "audit_events")
_SCOPE = "current_setting('app.tenant_id', true)"
# CASE, not OR alone: Postgres may evaluate either side of an OR first, and '*' is no uuid.
RULE = (
    f"CASE WHEN {_SCOPE} = '*' THEN true"
    f" WHEN coalesce({_SCOPE}, '') = '' THEN false"
    f" ELSE tenant_id = {_SCOPE}::uuid END"
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_isolation ON {table} USING ({RULE}) WITH CHECK ({RULE})")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
