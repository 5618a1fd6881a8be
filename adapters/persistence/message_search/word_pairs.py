"""The deferred word pairs of whole messages (migration 0012): the sync queues every stored message in
`message_word_pairs_pending`, and a scheduled job moves them into `message_word_pairs` with their pairs."""

from typing import Any

from sqlalchemy import ColumnElement, DateTime, Text, Uuid, column, delete, func, literal_column, select, table
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.persistence.mail_models import MessageModel
from adapters.persistence.message_search.pages import COLUMNS

SEARCH_VECTOR: ColumnElement[Any] = literal_column("messages.search_vector")  # subject, addresses and body
WORD_PAIRS = table(
    "message_word_pairs",
    column("message_id", Uuid()),
    column("tenant_id", Uuid()),
    column("internal_date", DateTime(timezone=True)),
    column("pairs", ARRAY(Text())),
)
AWAITING_PAIRS = table(
    "message_word_pairs_pending",
    column("message_id", Uuid()),
    column("tenant_id", Uuid()),
    column("internal_date", DateTime(timezone=True)),
)


async def index_word_pairs(session: AsyncSession, batch: int) -> int:
    """Moves up to `batch` pending messages (any tenant's, in the order they were stored, by their time-ordered
    ids) into `message_word_pairs`; another worker doing the same at once takes other messages (SKIP LOCKED).
    Returns how many left the queue. Postgres only; elsewhere nothing waits."""
    if session.get_bind().dialect.name != "postgresql":
        return 0
    taken = (
        select(AWAITING_PAIRS.c.message_id)
        .order_by(AWAITING_PAIRS.c.message_id)
        .limit(batch)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    moved = (
        delete(AWAITING_PAIRS)
        .where(AWAITING_PAIRS.c.message_id.in_(taken))
        .returning(AWAITING_PAIRS.c.message_id)
        .cte("moved")
    )
    pairs = select(
        COLUMNS.id, COLUMNS.tenant_id, COLUMNS.internal_date, func.mailroom_word_pairs(SEARCH_VECTOR)
    ).join_from(MessageModel, moved, moved.c.message_id == COLUMNS.id)
    stored = (
        pg_insert(WORD_PAIRS)
        .from_select(["message_id", "tenant_id", "internal_date", "pairs"], pairs)
        .on_conflict_do_nothing()
        .cte("stored")
    )
    taken_count = select(func.count()).select_from(moved).add_cte(stored)
    return int((await session.execute(taken_count)).scalar_one())
