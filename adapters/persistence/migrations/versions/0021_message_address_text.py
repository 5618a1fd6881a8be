"""Messages stored before 0005 get the address text that search reads (0005 added it as '' to existing rows).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-09
"""

from collections.abc import Sequence
from typing import Any

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_MESSAGES = sa.table(
    "messages",
    sa.column("id", advanced_alchemy.types.guid.GUID(length=16)),
    *(sa.column(name, _JSON) for name in ("sender", "recipients_to", "recipients_cc", "recipients_bcc")),
    sa.column("from_text"),
    sa.column("to_text"),
    sa.column("from_address"),
)
_BATCH = 1000


def _text(addresses: list[dict[str, str]]) -> str:
    """As adapters.persistence.mail_mappers.address_text (kept here: a migration must not change with the code)."""
    return " ".join(f"{a['name']} {a['address']}".strip() for a in addresses).lower()


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    if postgres:
        op.execute("SELECT set_config('app.tenant_id', '*', true)")  # every tenant's rows, past row-level security
    m = _MESSAGES.c
    update = (
        _MESSAGES.update()
        .where(m.id == sa.bindparam("message"))
        .values(
            from_text=sa.bindparam("from_text"),
            to_text=sa.bindparam("to_text"),
            from_address=sa.bindparam("from_address"),
        )
    )
    last: Any = None
    while True:  # a page at a time by id, so that a large store is never read into memory at once
        stale = (
            sa.select(m.id, m.sender, m.recipients_to, m.recipients_cc, m.recipients_bcc)
            .where(m.from_text == "", m.to_text == "", m.from_address == "")
            .order_by(m.id)
            .limit(_BATCH)
        )
        rows = bind.execute(stale if last is None else stale.where(m.id > last)).all()
        if not rows:
            return
        last = rows[-1][0]
        batch = [
            {
                "message": id_,
                "from_text": _text(sender),
                "to_text": _text([*to, *cc, *bcc]),
                "from_address": sender[0]["address"].lower()[:998] if sender else "",
            }
            for id_, sender, to, cc, bcc in rows
            if sender or to or cc or bcc
        ]
        if not batch:
            continue
        bind.execute(update, batch)
        if postgres:  # the word pairs of the search vector, which now holds the addresses: computed again (0012)
            ids = [c["message"] for c in batch]
            bind.execute(sa.text("DELETE FROM message_word_pairs WHERE message_id = ANY(:ids)"), {"ids": ids})
            bind.execute(
                sa.text(
                    "INSERT INTO message_word_pairs_pending (message_id, tenant_id, internal_date)"
                    " SELECT id, tenant_id, internal_date FROM messages WHERE id = ANY(:ids) ON CONFLICT DO NOTHING"
                ),
                {"ids": ids},
            )


def downgrade() -> None:
    """Nothing to undo: the text stays right for the rows."""
