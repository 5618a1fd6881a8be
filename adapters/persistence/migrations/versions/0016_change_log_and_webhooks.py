"""The change log (one sequence per tenant), webhook endpoints with their deliveries and attempts, and what the
account sync needs to announce changes: whether an account had its first sync, and since when it is failing.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = advanced_alchemy.types.datetime.DateTimeUTC(timezone=True)
_GUID = advanced_alchemy.types.guid.GUID(length=16)
TABLES = ("change_events", "change_counters", "webhooks", "webhook_deliveries", "webhook_attempts")
_SCOPE = "current_setting('app.tenant_id', true)"
# The rule of 0008: every tenant-owned table gets it.
RULE = (
    f"CASE WHEN {_SCOPE} = '*' THEN true"
    f" WHEN coalesce({_SCOPE}, '') = '' THEN false"
    f" ELSE tenant_id = {_SCOPE}::uuid END"
)


def _audit_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
    ]


def _tenant(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["tenants.id"], name=op.f(f"fk_{table}_tenant_id_tenants"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.add_column("account_syncs", sa.Column("first_synced_at", _TIME, nullable=True))
    op.add_column("account_syncs", sa.Column("failing_since", _TIME, nullable=True))
    # An account that synced before the change log existed has had its first sync.
    op.execute(
        "UPDATE account_syncs SET first_synced_at = finished_at WHERE phase = 'idle' AND finished_at IS NOT NULL"
    )
    op.create_table(
        "change_events",
        sa.Column("tenant_id", _GUID, nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("id", _GUID, nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("account_id", _GUID, nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        _tenant("change_events"),
        sa.PrimaryKeyConstraint("tenant_id", "sequence", name=op.f("pk_change_events")),
        sa.UniqueConstraint("id", name=op.f("uq_change_events_id")),
    )
    op.create_index("ix_change_events_created_at", "change_events", ["created_at"])
    op.create_table(
        "change_counters",
        sa.Column("tenant_id", _GUID, nullable=False),
        sa.Column("last_sequence", sa.BigInteger(), nullable=False),
        sa.Column("pruned_through", sa.BigInteger(), nullable=False),
        _tenant("change_counters"),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_change_counters")),
    )
    op.create_table(
        "webhooks",
        sa.Column("id", _GUID, nullable=False),
        sa.Column("tenant_id", _GUID, nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("event_types", sa.JSON(), nullable=False),
        sa.Column("account_ids", sa.JSON(), nullable=True),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("secret_key_id", sa.String(length=32), nullable=False),
        sa.Column("secret_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("cursor", sa.BigInteger(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.String(length=500), nullable=True),
        *_audit_columns(),
        _tenant("webhooks"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhooks")),
    )
    op.create_index(op.f("ix_webhooks_tenant_id"), "webhooks", ["tenant_id"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", _GUID, nullable=False),
        sa.Column("tenant_id", _GUID, nullable=False),
        sa.Column("webhook_id", _GUID, nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("event_id", _GUID, nullable=False),
        sa.Column("event_type", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _TIME, nullable=True),
        *_audit_columns(),
        _tenant("webhook_deliveries"),
        sa.ForeignKeyConstraint(
            ["webhook_id"], ["webhooks.id"], name=op.f("fk_webhook_deliveries_webhook_id_webhooks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
    )
    op.create_index("ix_webhook_deliveries_due", "webhook_deliveries", ["tenant_id", "status", "next_attempt_at"])
    op.create_index(op.f("ix_webhook_deliveries_webhook_id"), "webhook_deliveries", ["webhook_id"])
    op.create_table(
        "webhook_attempts",
        sa.Column("id", _GUID, nullable=False),
        sa.Column("tenant_id", _GUID, nullable=False),
        sa.Column("webhook_id", _GUID, nullable=False),
        sa.Column("delivery_id", _GUID, nullable=False),
        sa.Column("event_id", _GUID, nullable=False),
        sa.Column("event_type", sa.String(length=40), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("next_attempt_at", _TIME, nullable=True),
        *_audit_columns(),
        _tenant("webhook_attempts"),
        sa.ForeignKeyConstraint(
            ["webhook_id"], ["webhooks.id"], name=op.f("fk_webhook_attempts_webhook_id_webhooks"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["webhook_deliveries.id"],
            name=op.f("fk_webhook_attempts_delivery_id_webhook_deliveries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_attempts")),
    )
    op.create_index("ix_webhook_attempts_webhook", "webhook_attempts", ["webhook_id", "id"])
    op.create_index(op.f("ix_webhook_attempts_delivery_id"), "webhook_attempts", ["delivery_id"])
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(f"CREATE POLICY tenant_isolation ON {table} USING ({RULE}) WITH CHECK ({RULE})")


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
    with op.batch_alter_table("account_syncs") as batch:
        batch.drop_column("failing_since")
        batch.drop_column("first_synced_at")
