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
    not_,
    or_,
    select,
    table,
    tuple_,
)
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.persistence.mail_mappers import SUMMARY_COLUMNS, summary_from_row
from adapters.persistence.mail_models import MessageModel
from domain.messages import MessageSummary
from domain.search import Cursor, KeysetPage, MessageQuery, PageAfter, TermGroup, parse_web_search

_FTS: ColumnElement[Any] = literal_column("messages_fts")
_VECTOR: ColumnElement[Any] = literal_column("messages.search_vector")
_HEADLINE: ColumnElement[Any] = literal_column("messages.headline_vector")
_FTS_WEIGHTS = (10.0, 5.0, 5.0, 1.0)  # subject, from, to, body
RECENT_WINDOW = 1000
_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+$")  # a whole address: equality on an index, not a trigram scan
_JOINERS = re.compile(r"(?<=\w)[@.+_](?=\w)")  # split as the indexed text is (migration 0005)


async def search(session: AsyncSession, query: MessageQuery, page: PageAfter) -> KeysetPage[MessageSummary]:
    base = select(*SUMMARY_COLUMNS).where(*_filters(query))
    if query.text is None:
        rows = await _rows(session, _newest_first(base, page.cursor), page.limit + 1)
        return _page([(row, None) for row in rows], page.limit)
    if session.get_bind().dialect.name == "postgresql":
        return _page(await _postgres_ranked(session, base, query.text, page), page.limit)
    expression = fts5_expression(parse_web_search(query.text))
    if expression is None:
        return KeysetPage([], None)
    statement, score = _sqlite_text(base, expression)
    rows = await _rows(session, _best_first(statement, score, page.cursor), page.limit + 1)
    return _page([(row, float(row.score)) for row in rows], page.limit)


async def _postgres_ranked(
    session: AsyncSession, base: Select[Any], text: str, page: PageAfter
) -> list[tuple[Row[Any], float | None]]:
    """Two steps, so no query ranks every match: first the messages whose subject or addresses match, scored
    1 + ts_rank of that small headline vector (an index finds them); then the matches in the body alone, score 0,
    newest first, which the date index can serve a page at a time however common the words are. Ranking every
    match by its whole vector read each body vector from TOAST (116 ms at p50 for a word in 1.6% of a million)."""
    tsquery = func.websearch_to_tsquery(
        literal_column("'simple'::regconfig"), bindparam("text", _JOINERS.sub(" ", text))
    )
    cursor, wanted = page.cursor, page.limit + 1
    found: list[tuple[Row[Any], float | None]] = []
    if cursor is None or (cursor.score or 0.0) >= 1:
        score = cast(1 + func.ts_rank(_HEADLINE, tsquery), REAL)
        headline = base.where(_VECTOR.op("@@")(tsquery), _HEADLINE.op("@@")(tsquery))
        found = [(row, float(row.score)) for row in await _rows(session, _best_first(headline, score, cursor), wanted)]
        cursor = None
    if len(found) < wanted:
        found += [(row, 0.0) for row in await _body_only(session, base, tsquery, cursor, wanted - len(found))]
    return found


async def _body_only(
    session: AsyncSession, base: Select[Any], tsquery: ColumnElement[Any], cursor: Cursor | None, wanted: int
) -> list[Row[Any]]:
    """Newest first. The planner cannot tell how rare a phrase is (it estimates the words' AND), so it may walk
    the date index through half the table for a rare phrase of common words (1.9 s), or, told to use the
    full-text index, fetch 350,000 matches of a common one to sort them (1.3 s). So: look among the newest
    RECENT_WINDOW candidates first, which answers common words and phrases; only when they hold too few
    matches, take every match from the full-text index and sort those."""
    conditions = [_VECTOR.op("@@")(tsquery), not_(_HEADLINE.op("@@")(tsquery))]
    recent = _newest_first(base.with_only_columns(MessageModel.id), cursor).limit(RECENT_WINDOW).subquery()
    in_window = _newest_first(base.where(MessageModel.id.in_(select(recent.c.id)), *conditions), cursor)
    rows = await _rows(session, in_window, wanted)
    if len(rows) == wanted:
        return rows
    matches = base.where(*conditions).cte("matches").prefix_with("MATERIALIZED")
    everything = select(matches).order_by(matches.c.internal_date.desc(), matches.c.id.desc())
    if cursor is not None:
        everything = everything.where(tuple_(matches.c.internal_date, matches.c.id) < tuple_(cursor.date, cursor.id))
    return await _rows(session, everything, wanted)


async def _rows(session: AsyncSession, statement: Select[Any], limit: int) -> list[Row[Any]]:
    return list((await session.execute(statement.limit(limit))).all())


def _page(rows: list[tuple[Row[Any], float | None]], limit: int) -> KeysetPage[MessageSummary]:
    items = [summary_from_row(row) for row, _ in rows[:limit]]
    if len(rows) <= limit:
        return KeysetPage(items, None)
    last, score = items[-1], rows[limit - 1][1]
    return KeysetPage(items, Cursor(score, last.internal_date, last.id))


def _filters(query: MessageQuery) -> list[ColumnElement[bool]]:
    m = MessageModel
    conditions: list[ColumnElement[bool]] = [m.tenant_id == query.tenant_id]
    if query.account_id is not None:
        conditions.append(m.account_id == query.account_id)
    if query.mailbox_id is not None:
        conditions.append(m.mailbox_id == query.mailbox_id)
    if query.unread is not None:
        conditions.append(m.seen == (not query.unread))
    if query.flagged is not None:
        conditions.append(m.flagged == query.flagged)
    if query.has_attachments is not None:
        conditions.append(m.has_attachments == query.has_attachments)
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


def _sqlite_text(statement: Select[Any], expression: str) -> tuple[Select[Any], ColumnElement[float]]:
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
