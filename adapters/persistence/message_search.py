"""The SQL of message lists and search: filters, full text (Postgres tsvector or SQLite FTS5), keyset pages.

Every value reaches the database as a bound parameter; the full-text string is read by websearch_to_tsquery on
Postgres (which accepts any string) and turned into a quoted FTS5 expression on SQLite."""

import re
from typing import Any

from sqlalchemy import (
    REAL,
    ColumnElement,
    Select,
    and_,
    bindparam,
    cast,
    column,
    func,
    literal_column,
    or_,
    select,
    table,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.persistence.mail_mappers import SUMMARY_COLUMNS, summary_from_row
from adapters.persistence.mail_models import MessageModel
from domain.messages import MessageSummary
from domain.search import Cursor, KeysetPage, MessageQuery, PageAfter, TermGroup, parse_web_search

_FTS: ColumnElement[Any] = literal_column("messages_fts")
_VECTOR: ColumnElement[Any] = literal_column("messages.search_vector")
# Ranked by the subject and addresses only: ranking by the whole vector read every match's body vector from TOAST
# (a word in 1.6% of a million messages: 116 ms a query); matches in the body alone then come newest first.
_HEADLINE: ColumnElement[Any] = literal_column("messages.headline_vector")
_FTS_WEIGHTS = (10.0, 5.0, 5.0, 1.0)  # subject, from, to, body
_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+$")  # a whole address: equality on an index, not a trigram scan
_JOINERS = re.compile(r"(?<=\w)[@.+_](?=\w)")  # split as the indexed text is (migration 0005)


async def search(session: AsyncSession, query: MessageQuery, page: PageAfter) -> KeysetPage[MessageSummary]:
    postgres = session.get_bind().dialect.name == "postgresql"
    statement = select(*SUMMARY_COLUMNS).where(*_filters(query))
    if query.text is None:
        statement = _newest_first(statement, page.cursor)
        score = None
    else:
        statement, score = (_postgres_text if postgres else _sqlite_text)(statement, query.text)
        if score is None:
            return KeysetPage([], None)
        statement = _best_first(statement, score, page.cursor)
    rows = (await session.execute(statement.limit(page.limit + 1))).all()
    items = [summary_from_row(row) for row in rows[: page.limit]]
    if len(rows) <= page.limit:
        return KeysetPage(items, None)
    last_row, last = rows[page.limit - 1], items[-1]
    return KeysetPage(items, Cursor(None if score is None else float(last_row.score), last.internal_date, last.id))


def _filters(query: MessageQuery) -> list[ColumnElement[bool]]:
    m = MessageModel
    conditions: list[ColumnElement[bool]] = [m.tenant_id == query.tenant_id]
    if query.account_id is not None:
        conditions.append(m.account_id == query.account_id)
    if query.mailbox_id is not None:
        conditions.append(m.mailbox_id == query.mailbox_id)
    if query.unread is not None:
        conditions.append(m.seen.is_(not query.unread))
    if query.flagged is not None:
        conditions.append(m.flagged.is_(query.flagged))
    if query.has_attachments is not None:
        conditions.append(m.has_attachments.is_(query.has_attachments))
    if query.since is not None:
        conditions.append(m.internal_date >= query.since)
    if query.before is not None:
        conditions.append(m.internal_date < query.before)
    if query.sender is not None and _ADDRESS.match(query.sender):
        conditions.append(m.from_address == query.sender.lower())
    elif query.sender is not None:
        conditions.append(m.from_text.contains(query.sender.lower(), autoescape=True))
    if query.recipient is not None:
        conditions.append(m.to_text.contains(query.recipient.lower(), autoescape=True))
    if query.subject is not None:
        conditions.append(func.lower(m.subject).contains(query.subject.lower(), autoescape=True))
    return conditions


def _newest_first(statement: Select[Any], cursor: Cursor | None) -> Select[Any]:
    m = MessageModel
    if cursor is not None:
        statement = statement.where(
            or_(m.internal_date < cursor.date, and_(m.internal_date == cursor.date, m.id < cursor.id))
        )
    return statement.order_by(m.internal_date.desc(), m.id.desc())


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


def _postgres_text(statement: Select[Any], text: str) -> tuple[Select[Any], ColumnElement[float] | None]:
    split = _JOINERS.sub(" ", text)
    tsquery = func.websearch_to_tsquery(literal_column("'simple'::regconfig"), bindparam("text", split))
    score = cast(func.ts_rank(_HEADLINE, tsquery), REAL)
    return statement.where(_VECTOR.op("@@")(tsquery)), score


def _sqlite_text(statement: Select[Any], text: str) -> tuple[Select[Any], ColumnElement[float] | None]:
    expression = fts5_expression(parse_web_search(text))
    if expression is None:
        return statement, None
    index = table("messages_fts", column("rowid"))
    joined = statement.join_from(MessageModel, index, index.c.rowid == literal_column("messages.rowid"))
    score = cast(-func.bm25(_FTS, *_FTS_WEIGHTS), REAL)
    return joined.where(_FTS.op("MATCH")(bindparam("text", expression))), score


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
