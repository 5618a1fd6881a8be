"""Full text on SQLite: the FTS5 table `messages_fts`, its matches ranked by bm25, best first."""

from typing import Any

from sqlalchemy import REAL, ColumnElement, Select, bindparam, cast, column, func, literal_column, select, table, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.persistence.mail_models import MessageModel
from adapters.persistence.message_search.pages import first_rows, keyset_page
from domain.messages import MessageSummary
from domain.search import Cursor, KeysetPage, PageAfter, TermGroup, parse_web_search

_FTS: ColumnElement[Any] = literal_column("messages_fts")
_FTS_WEIGHTS = (10.0, 5.0, 5.0, 1.0)  # subject, from, to, body


async def sqlite_search(
    session: AsyncSession, base: Select[Any], text: str, page: PageAfter
) -> KeysetPage[MessageSummary]:
    """The messages of `base` matching `text`, read as an FTS5 expression."""
    expression = fts5_expression(parse_web_search(text))
    if expression is None:
        return KeysetPage([], None)
    statement, score = _matching(base, expression)
    rows = await first_rows(session, _best_first(statement, score, page.cursor), page.limit + 1)
    return keyset_page([(row, float(row.score)) for row in rows], page.limit)


def fts5_expression(groups: list[TermGroup]) -> str | None:
    """Alternatives joined by OR, each an AND of quoted phrases minus its excluded phrases. FTS5 cannot express
    an alternative with nothing required; such an alternative matches nothing here."""

    def phrase(words: tuple[str, ...]) -> str:
        return '"' + " ".join(words).replace('"', '""') + '"'

    alternatives = []
    for group in groups:
        if not group.required:
            continue
        clause = " AND ".join(phrase(p) for p in group.required)
        for excluded in group.excluded:
            clause = f"({clause}) NOT {phrase(excluded)}"
        alternatives.append(f"({clause})")
    return " OR ".join(alternatives) or None


def _matching(statement: Select[Any], expression: str) -> tuple[Select[Any], ColumnElement[float]]:
    index = table("messages_fts", column("rowid"))
    joined = statement.join_from(MessageModel, index, index.c.rowid == literal_column("messages.rowid"))
    score = cast(-func.bm25(_FTS, *_FTS_WEIGHTS), REAL)
    return joined.where(_FTS.op("MATCH")(bindparam("text", expression))), score


def _best_first(statement: Select[Any], score: ColumnElement[float], cursor: Cursor | None) -> Select[Any]:
    """Best score first; equal scores newest first."""
    ranked = statement.add_columns(score.label("score")).subquery()
    outer = select(ranked)
    if cursor is not None:
        at = cast(bindparam("cursor_score", cursor.score or 0.0), REAL)
        outer = outer.where(
            tuple_(ranked.c.score, ranked.c.internal_date, ranked.c.id) < tuple_(at, cursor.date, cursor.id)
        )
    return outer.order_by(ranked.c.score.desc(), ranked.c.internal_date.desc(), ranked.c.id.desc())
