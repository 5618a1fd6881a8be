"""Inbox watches spread over the worker processes: one lease per watched account.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = advanced_alchemy.types.datetime.DateTimeUTC(timezone=True)
_GUID = advanced_alchemy.types.guid.GUID(length=16)
_SCOPE = "current_setting('app.tenant_id', true)"
# The rule of 0008: every tenant-owned table gets it.
RULE = (
    f"CASE WHEN {_SCOPE} = '*' THEN true"
    f" WHEN coalesce({_SCOPE}, '') = '' THEN false"
    f" ELSE tenant_id = {_SCOPE}::uuid END"
)


def upgrade() -> None:
    op.create_table(
        "watch_leases",
        sa.Column("account_id", _GUID, nullable=False),
        sa.Column("tenant_id", _GUID, nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=False),
        sa.Column("expires_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["mail_accounts.id"],
            name=op.f("fk_watch_leases_account_id_mail_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_watch_leases_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_watch_leases")),
    )
    op.create_index(op.f("ix_watch_leases_owner"), "watch_leases", ["owner"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE watch_leases ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE watch_leases FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_isolation ON watch_leases USING ({RULE}) WITH CHECK ({RULE})")


def downgrade() -> None:
    op.drop_table("watch_leases")
