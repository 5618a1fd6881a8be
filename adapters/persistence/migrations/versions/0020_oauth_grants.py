"""OAuth2 sign-in for mail accounts: which credential each side uses, and each account's grant (domain.oauth).

A side that signs in with OAuth2 keeps empty password columns (`imap_auth`/`smtp_auth` say which): they stay NOT
NULL, as changing that on SQLite means copying the table, and dropping the old copy would cascade into every
folder, message and draft (see 0019's downgrade).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
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
    for side in ("imap", "smtp"):
        op.add_column(
            "mail_accounts", sa.Column(f"{side}_auth", sa.String(16), nullable=False, server_default="password")
        )
    op.create_table(
        "oauth_grants",
        sa.Column("account_id", _GUID, nullable=False),
        sa.Column("tenant_id", _GUID, nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("access_key_id", sa.String(32), nullable=False),
        sa.Column("access_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("refresh_key_id", sa.String(32), nullable=True),
        sa.Column("refresh_ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("expires_at", _TIME, nullable=True),
        sa.Column("reauth_required", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.Column("renewing_until", _TIME, nullable=True),
        sa.Column("renewed_at", _TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["mail_accounts.id"], name=op.f("fk_oauth_grants_account_id_mail_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_oauth_grants_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_oauth_grants")),
    )  # fmt: skip
    op.create_index(op.f("ix_oauth_grants_tenant_id"), "oauth_grants", ["tenant_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE oauth_grants ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE oauth_grants FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_isolation ON oauth_grants USING ({RULE}) WITH CHECK ({RULE})")


def downgrade() -> None:
    """An account that signs in with OAuth2 has no password to go back to: refused while one exists."""
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("SELECT set_config('app.tenant_id', '*', true)")  # every tenant's rows, past row-level security
    if bind.execute(sa.text("SELECT count(*) FROM oauth_grants")).scalar_one():
        raise RuntimeError("accounts sign in with OAuth2: delete them, or give them passwords, before downgrading")
    op.drop_table("oauth_grants")
    op.drop_column("mail_accounts", "smtp_auth")  # in place, also on SQLite (3.35+): a plain column
    op.drop_column("mail_accounts", "imap_auth")
