"""Per-user access: account owners and grants, disabled users, sign-in sessions with refresh tokens, API keys, and
webhook owners.

Existing accounts go to their tenant's first admin (the oldest), who could reach them all until now. An existing
webhook goes to whoever created it (its `webhook.created` audit event) while that user exists, else also to the
first admin: an admin's endpoint keeps receiving the whole tenant's events, as every endpoint did before.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-08
"""

from collections.abc import Sequence
from uuid import UUID

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = advanced_alchemy.types.datetime.DateTimeUTC(timezone=True)
_GUID = advanced_alchemy.types.guid.GUID(length=16)
TABLES = ("account_grants", "sessions", "refresh_tokens", "api_keys")
_SCOPE = "current_setting('app.tenant_id', true)"
# The rule of 0008: every tenant-owned table gets it.
RULE = (
    f"CASE WHEN {_SCOPE} = '*' THEN true"
    f" WHEN coalesce({_SCOPE}, '') = '' THEN false"
    f" ELSE tenant_id = {_SCOPE}::uuid END"
)


def _tenant(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["tenants.id"], name=op.f(f"fk_{table}_tenant_id_tenants"), ondelete="CASCADE"
    )


def _user(table: str, column: str = "user_id", ondelete: str = "CASCADE") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], ["users.id"], name=op.f(f"fk_{table}_{column}_users"), ondelete=ondelete)


def _add_owner(table: str, ondelete: str) -> None:
    """SQLite cannot add a constraint to a table, only a column with its REFERENCES; and the column may be there
    already, left by a downgrade (see `downgrade`)."""
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        if any(column["name"] == "owner_id" for column in sa.inspect(bind).get_columns(table)):
            return
        column: sa.Column[UUID] = sa.Column(
            "owner_id", _GUID, sa.ForeignKey("users.id", ondelete=ondelete), nullable=True
        )
        op.add_column(table, column, inline_references=True)
        return
    op.add_column(table, sa.Column("owner_id", _GUID, nullable=True))
    op.create_foreign_key(op.f(f"fk_{table}_owner_id_users"), table, "users", ["owner_id"], ["id"], ondelete=ondelete)


def upgrade() -> None:
    op.add_column("users", sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false()))
    _add_owner("mail_accounts", "SET NULL")
    op.create_index("ix_mail_accounts_tenant_owner", "mail_accounts", ["tenant_id", "owner_id"])
    _add_owner("webhooks", "CASCADE")
    op.create_table(
        "account_grants",
        sa.Column("tenant_id", _GUID, nullable=False),
        sa.Column("account_id", _GUID, nullable=False),
        sa.Column("user_id", _GUID, nullable=False),
        sa.Column("access", sa.String(length=8), nullable=False),
        sa.Column("granted_by", _GUID, nullable=True),
        sa.Column("granted_at", _TIME, nullable=False),
        _tenant("account_grants"),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["mail_accounts.id"],
            name=op.f("fk_account_grants_account_id_mail_accounts"),
            ondelete="CASCADE",
        ),
        _user("account_grants"),
        _user("account_grants", "granted_by", "SET NULL"),
        sa.PrimaryKeyConstraint("account_id", "user_id", name=op.f("pk_account_grants")),
    )
    op.create_index("ix_account_grants_tenant_user", "account_grants", ["tenant_id", "user_id"])
    op.create_table(
        "sessions",
        sa.Column("id", _GUID, nullable=False),
        sa.Column("tenant_id", _GUID, nullable=False),
        # A deleted user's sessions stay (user_id NULL, revoked) until their access tokens have expired: the
        # revocation list is refilled from them when the API starts.
        sa.Column("user_id", _GUID, nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("revoked_at", _TIME, nullable=True),
        _tenant("sessions"),
        _user("sessions", ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
    )
    op.create_index(op.f("ix_sessions_user_id"), "sessions", ["user_id"])
    op.create_index(op.f("ix_sessions_revoked_at"), "sessions", ["revoked_at"])
    op.create_table(
        "refresh_tokens",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("session_id", _GUID, nullable=False),
        sa.Column("tenant_id", _GUID, nullable=False),
        sa.Column("user_id", _GUID, nullable=False),
        sa.Column("issued_at", _TIME, nullable=False),
        sa.Column("expires_at", _TIME, nullable=False),
        sa.Column("used_at", _TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"], name=op.f("fk_refresh_tokens_session_id_sessions"), ondelete="CASCADE"
        ),
        _tenant("refresh_tokens"),
        _user("refresh_tokens"),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_refresh_tokens")),
    )
    op.create_index(op.f("ix_refresh_tokens_session_id"), "refresh_tokens", ["session_id"])
    op.create_index(op.f("ix_refresh_tokens_expires_at"), "refresh_tokens", ["expires_at"])
    op.create_table(
        "api_keys",
        sa.Column("id", _GUID, nullable=False),
        sa.Column("tenant_id", _GUID, nullable=False),
        sa.Column("user_id", _GUID, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("hint", sa.String(length=16), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("expires_at", _TIME, nullable=True),
        sa.Column("last_used_at", _TIME, nullable=True),
        _tenant("api_keys"),
        _user("api_keys"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("digest", name=op.f("uq_api_keys_digest")),
    )
    op.create_index("ix_api_keys_tenant_user", "api_keys", ["tenant_id", "user_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("SELECT set_config('app.tenant_id', '*', true)")  # every tenant's rows, past row-level security
        for table in TABLES:
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(f"CREATE POLICY tenant_isolation ON {table} USING ({RULE}) WITH CHECK ({RULE})")
    _give_owners(op.get_bind())


_USERS = sa.table(
    "users", sa.column("id", _GUID), sa.column("tenant_id", _GUID), sa.column("role"), sa.column("created_at", _TIME)
)
_ACCOUNTS = sa.table("mail_accounts", sa.column("tenant_id", _GUID), sa.column("owner_id", _GUID))
_WEBHOOKS = sa.table("webhooks", sa.column("id", _GUID), sa.column("tenant_id", _GUID), sa.column("owner_id", _GUID))
_AUDIT = sa.table(
    "audit_events", sa.column("actor_id", _GUID), sa.column("action"), sa.column("target"), sa.column("at", _TIME)
)


def _give_owners(bind: sa.Connection) -> None:
    """In Python, so the ids compare as ids on both databases (uuid on Postgres, 16 bytes on SQLite, and text in
    the audit trail's `target`)."""
    tenant_of = dict(bind.execute(sa.select(_USERS.c.id, _USERS.c.tenant_id)).all())
    first_admin: dict[UUID, UUID] = {}
    admins = sa.select(_USERS.c.tenant_id, _USERS.c.id).where(_USERS.c.role == "admin")
    for tenant_id, user_id in bind.execute(admins.order_by(_USERS.c.created_at, _USERS.c.id)):
        first_admin.setdefault(tenant_id, user_id)
    if first_admin:
        bind.execute(
            _ACCOUNTS.update()
            .where(_ACCOUNTS.c.tenant_id == sa.bindparam("tenant"))
            .values(owner_id=sa.bindparam("owner")),
            [{"tenant": tenant_id, "owner": user_id} for tenant_id, user_id in first_admin.items()],
        )
    creator: dict[str, UUID] = {}
    created = sa.select(_AUDIT.c.target, _AUDIT.c.actor_id).where(
        _AUDIT.c.action == "webhook.created", _AUDIT.c.target.is_not(None), _AUDIT.c.actor_id.is_not(None)
    )
    for target, actor_id in bind.execute(created.order_by(_AUDIT.c.at)):
        creator.setdefault(target.strip().lower(), actor_id)
    owners: list[dict[str, UUID]] = []
    for webhook_id, tenant_id in bind.execute(sa.select(_WEBHOOKS.c.id, _WEBHOOKS.c.tenant_id)):
        actor = creator.get(str(webhook_id))
        owner = actor if actor is not None and tenant_of.get(actor) == tenant_id else first_admin.get(tenant_id)
        if owner is not None:
            owners.append({"hook": webhook_id, "owner": owner})
    if owners:
        bind.execute(
            _WEBHOOKS.update().where(_WEBHOOKS.c.id == sa.bindparam("hook")).values(owner_id=sa.bindparam("owner")),
            owners,
        )


def downgrade() -> None:
    """On SQLite the owner columns stay: SQLite drops no column that has a foreign key, and copying the table
    without it means dropping the old one, which (foreign keys on, and they cannot be switched off inside the
    migration's transaction) would cascade into every folder, message and draft. Left alone they are harmless
    nullable columns to 0018, and an upgrade again keeps them."""
    for table in reversed(TABLES):
        op.drop_table(table)
    op.drop_index("ix_mail_accounts_tenant_owner", table_name="mail_accounts")
    op.drop_column("users", "disabled")  # in place, also on SQLite (3.35+): a plain column
    if op.get_bind().dialect.name != "sqlite":
        op.drop_column("webhooks", "owner_id")  # with its foreign key
        op.drop_column("mail_accounts", "owner_id")
