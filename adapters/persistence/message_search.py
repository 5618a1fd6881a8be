"""The SQL of message lists and search: filters, full text (Postgres tsvector or SQLite FTS5), keyset pages.

Every value reaches the database as a bound parameter; the full-text string is read by websearch_to_tsquery on
Postgres (which accepts any string) and turned into a quoted FTS5 expression on SQLite."""

import re
from dataclasses import dataclass
from math import ceil
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

from adapters.persistence.explain import estimated_rows
from adapters.persistence.mail_mappers import SUMMARY_COLUMNS, summary_from_row
from adapters.persistence.mail_models import MessageModel
from domain.messages import MessageSummary
from domain.search import (
    Cursor,
    KeysetPage,
    MessageQuery,
    PageAfter,
    TermGroup,
    parse_web_search,
    required_phrases,
)

_COLUMNS = MessageModel.__table__.c  # building conditions from the model's attributes cost 0.4 ms a search
_FTS: ColumnElement[Any] = literal_column("messages_fts")
_VECTOR: ColumnElement[Any] = literal_column("messages.search_vector")
_HEADLINE: ColumnElement[Any] = literal_column("messages.headline_vector")
_FTS_WEIGHTS = (10.0, 5.0, 5.0, 1.0)  # subject, from, to, body
RECENT_WINDOW = 1000
WIDEST_WINDOW = 4_000
FEW_CANDIDATES = 5_000
_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+$")  # a whole address: equality on an index, not a trigram scan
_JOINERS = re.compile(r"(?<=\w)[@.+_](?=\w)")  # split as the indexed text is (migration 0005)


async def search(session: AsyncSession, query: MessageQuery, page: PageAfter) -> KeysetPage[MessageSummary]:
    base = select(*SUMMARY_COLUMNS).where(*_filters(query))
    if query.text is None:
        rows = await _rows(session, _newest_first(base, page.cursor), page.limit + 1)
        return _page([(row, None) for row in rows], page.limit)
    if session.get_bind().dialect.name == "postgresql":
        return _page(await _postgres_tiers(session, base, query, query.text, page), page.limit)
    expression = fts5_expression(parse_web_search(query.text))
    if expression is None:
        return KeysetPage([], None)
    statement, score = _sqlite_text(base, expression)
    rows = await _rows(session, _best_first(statement, score, page.cursor), page.limit + 1)
    return _page([(row, float(row.score)) for row in rows], page.limit)


async def _postgres_tiers(
    session: AsyncSession, base: Select[Any], query: MessageQuery, text: str, page: PageAfter
) -> list[tuple[Row[Any], float | None]]:
    """Two tiers, each newest first: the messages whose subject or addresses match (score 1), then those that
    match in the body alone (score 0). Ranking matches by ts_rank meant reading and sorting every match, which
    for a common word or phrase is tens of thousands of rows (0.8 s); newest first, a tier is a page of the
    date index at a time whenever matches are dense (see `_newest_matching`)."""
    tsquery = func.websearch_to_tsquery(
        literal_column("'simple'::regconfig"), bindparam("text", _JOINERS.sub(" ", text))
    )
    in_text, in_headline = _Test(_VECTOR, tsquery), _Test(_HEADLINE, tsquery)
    tenant = _COLUMNS.tenant_id == query.tenant_id
    pairs = _headline_pairs(text)
    headline = _Tier(  # with a phrase, the pairs alone: the planner would multiply their rarity by the words'
        candidates=[tenant, *pairs] if pairs else [tenant, in_headline.indexed],
        indexed=[*pairs, in_headline.filtered, in_text.filtered] if pairs else [in_headline.indexed, in_text.filtered],
        filtered=[in_headline.filtered, in_text.filtered],
    )
    body_only = _Tier(
        candidates=[tenant, in_text.indexed],
        indexed=[in_text.indexed, not_(in_headline.filtered)],
        filtered=[in_text.filtered, not_(in_headline.filtered)],
    )
    cursor, wanted = page.cursor, page.limit + 1
    found: list[tuple[Row[Any], float | None]] = []
    if cursor is None or (cursor.score or 0.0) >= 1:
        found = [(row, 1.0) for row in await _newest_matching(session, base, headline, cursor, wanted)]
        cursor = None
    if len(found) < wanted:
        rows = await _newest_matching(session, base, body_only, cursor, wanted - len(found))
        found += [(row, 0.0) for row in rows]
    return found


def _headline_pairs(text: str) -> list[ColumnElement[bool]]:
    """For each phrase the search requires: the subject and addresses hold its adjacent word pairs (migration
    0009), as Postgres splits it for websearch_to_tsquery. Every headline with the phrase has them; few without
    it do, so the pair index finds a rare phrase of common words where the word index offers every subject with
    both words. Custom plans (adapters.persistence.database) fold the phrase's pairs into a constant."""
    held = func.mailroom_word_pairs(_HEADLINE)
    return [
        held.op("@>")(
            func.mailroom_word_pairs(
                func.to_tsvector(
                    literal_column("'simple'::regconfig"), bindparam(f"phrase_{n}", _JOINERS.sub(" ", phrase))
                )
            )
        )
        for n, phrase in enumerate(required_phrases(text))
    ]


class _Test:
    """`vector @@ query` twice over: as the operator, which a full-text index serves, and as its function, which
    none does, so that the planner drives the query from the date window or from another condition's index."""

    def __init__(self, vector: ColumnElement[Any], tsquery: ColumnElement[Any]) -> None:
        self.indexed: ColumnElement[bool] = vector.op("@@")(tsquery)
        self.filtered: ColumnElement[bool] = func.ts_match_vq(vector, tsquery)


@dataclass(frozen=True)
class _Tier:
    """Messages meeting `indexed` (or `filtered`, the same test). `candidates`: what the full-text index yields
    for them, each to be read and checked (for a phrase: every message with all of its words)."""

    candidates: list[ColumnElement[bool]]
    indexed: list[ColumnElement[bool]]
    filtered: list[ColumnElement[bool]]


async def _newest_matching(
    session: AsyncSession, base: Select[Any], tier: _Tier, cursor: Cursor | None, wanted: int
) -> list[Row[Any]]:
    """The newest `wanted` messages of `base` in `tier`, found one of two ways, neither of which the planner can
    choose well itself, as it estimates a phrase as the AND of its words.

    When the full-text index yields few candidates (by the planner's estimate, FEW_CANDIDATES), all matches are
    read and sorted. Otherwise matches are looked for among the newest RECENT_WINDOW messages of `base`, then
    among as many of the newest as the matches found suggest will do (up to WIDEST_WINDOW); if a window holds
    `wanted` matches, they are the newest of all, as everything outside it is older. Only when that fails too
    (a rare phrase of common words) are all candidates read. Measured on a million messages: a common word
    read from the index and sorted took 1.3 s, and a rare phrase walked along the date index 1.9 s."""
    if await estimated_rows(session, select(literal_column("1")).where(*tier.candidates)) > FEW_CANDIDATES:
        window = RECENT_WINDOW
        while True:
            rows = await _rows(session, _in_newest(base, tier.filtered, cursor, window), wanted)
            if len(rows) == wanted or not rows:
                break
            window = ceil(window * wanted / len(rows) * 1.5)
            if window > WIDEST_WINDOW:
                break
        if len(rows) == wanted:
            return rows
    matches = base.where(*tier.indexed).cte("matches").prefix_with("MATERIALIZED")
    everything = select(matches).order_by(matches.c.internal_date.desc(), matches.c.id.desc())
    if cursor is not None:
        everything = everything.where(tuple_(matches.c.internal_date, matches.c.id) < tuple_(cursor.date, cursor.id))
    return await _rows(session, everything, wanted)


def _in_newest(
    base: Select[Any], conditions: list[ColumnElement[bool]], cursor: Cursor | None, window: int
) -> Select[Any]:
    """Materialized, or the planner may run the window again for every candidate of a join (57 times, 0.6 s)."""
    recent = (
        _newest_first(base.with_only_columns(_COLUMNS.id), cursor)
        .limit(window)
        .cte("recent")
        .prefix_with("MATERIALIZED")
    )
    return _newest_first(base.where(_COLUMNS.id.in_(select(recent.c.id)), *conditions), cursor)


async def _rows(session: AsyncSession, statement: Select[Any], limit: int) -> list[Row[Any]]:
    connection = await session.connection()
    return list((await connection.execute(statement.limit(limit))).all())


def _page(rows: list[tuple[Row[Any], float | None]], limit: int) -> KeysetPage[MessageSummary]:
    items = [summary_from_row(row) for row, _ in rows[:limit]]
    if len(rows) <= limit:
        return KeysetPage(items, None)
    last, score = items[-1], rows[limit - 1][1]
    return KeysetPage(items, Cursor(score, last.internal_date, last.id))


def _filters(query: MessageQuery) -> list[ColumnElement[bool]]:
    m = _COLUMNS
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
    m = _COLUMNS
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
