"""Keyset pages: newest first by `(internal_date, id)`, the cursor holding the last row's key (and score)."""

from typing import Any

from sqlalchemy import Select, tuple_
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.persistence.mail_mappers import summary_from_row
from adapters.persistence.mail_models import MessageModel
from domain.messages import MessageSummary
from domain.search import Cursor, KeysetPage

COLUMNS = MessageModel.__table__.c  # not the model's attributes: conditions on those go through the ORM's layer


def newest_first(statement: Select[Any], cursor: Cursor | None) -> Select[Any]:
    """After the cursor as one row comparison, which the date index takes as where to start; written as an OR,
    it would be a filter, and a later page would read every row before it from the table."""
    m = COLUMNS
    if cursor is not None:
        statement = statement.where(tuple_(m.internal_date, m.id) < tuple_(cursor.date, cursor.id))
    return statement.order_by(m.internal_date.desc(), m.id.desc())


async def first_rows(session: AsyncSession, statement: Select[Any], limit: int) -> list[Row[Any]]:
    connection = await session.connection()
    return list((await connection.execute(statement.limit(limit))).all())


def keyset_page(scored: list[tuple[Row[Any], float | None]], limit: int) -> KeysetPage[MessageSummary]:
    """The first `limit` rows (each with its score), and a cursor after the last when there are more."""
    items = [summary_from_row(row) for row, _ in scored[:limit]]
    if len(scored) <= limit:
        return KeysetPage(items, None)
    last, score = items[-1], scored[limit - 1][1]
    return KeysetPage(items, Cursor(score, last.internal_date, last.id))
