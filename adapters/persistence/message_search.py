"""The SQL of message lists and search: filters, full text (Postgres tsvector or SQLite FTS5), keyset pages.

Every value reaches the database as a bound parameter; the full-text string is read by websearch_to_tsquery on
Postgres (which accepts any string) and turned into a quoted FTS5 expression on SQLite."""

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from math import ceil
from typing import Any
from uuid import UUID

from sqlalchemy import (
    REAL,
    ColumnElement,
    CompoundSelect,
    DateTime,
    Integer,
    Select,
    Text,
    Uuid,
    bindparam,
    cast,
    column,
    delete,
    func,
    literal_column,
    not_,
    select,
    table,
    tuple_,
    union,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
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

_COLUMNS = MessageModel.__table__.c  # not the model's attributes: conditions on those go through the ORM's layer
_FTS: ColumnElement[Any] = literal_column("messages_fts")
_VECTOR: ColumnElement[Any] = literal_column("messages.search_vector")
_HEADLINE: ColumnElement[Any] = literal_column("messages.headline_vector")
_FTS_WEIGHTS = (10.0, 5.0, 5.0, 1.0)  # subject, from, to, body
RECENT_WINDOW = 1000
WIDEST_WINDOW = 2_000
FEW_CANDIDATES = 5_000
RECENT_SPAN = 16_000  # the newest messages whose matches are read from the index before all of them
MOST_PENDING = 5_000  # messages awaiting their word pairs, beyond which a phrase search does without them
_PAIRS = table(  # migration 0012
    "message_word_pairs",
    column("message_id", Uuid()),
    column("tenant_id", Uuid()),
    column("internal_date", DateTime(timezone=True)),
    column("pairs", ARRAY(Text())),
)
_PENDING = table(
    "message_word_pairs_pending",
    column("message_id", Uuid()),
    column("tenant_id", Uuid()),
    column("internal_date", DateTime(timezone=True)),
)
_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+$")  # a whole address: equality on an index, not a trigram scan
_JOINERS = re.compile(r"(?<=\w)[@.+_](?=\w)")  # split as the indexed text is (migration 0005)


async def search(session: AsyncSession, query: MessageQuery, page: PageAfter) -> KeysetPage[MessageSummary]:
    if query.text is None:
        return await _newest_page(session, query, page)
    base = select(*SUMMARY_COLUMNS).where(*_filters(query))
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
    for a common word or phrase is a large share of the mailbox; newest first, a tier is a page of the date
    index at a time whenever matches are dense (see `_newest_matching`).

    A required phrase names its candidates by word pairs: in subjects and addresses by an index of theirs
    (migration 0009); for the body tier, by the pairs of whole messages (migration 0012), those indexed and every
    message still waiting for the scheduled job, while few wait, else by the body's words as before that
    migration; without pairs, a rare phrase of common words means checking every message with both words. The
    pairs of whole messages do not serve the subject tier: for common words they are common in bodies, so they
    name many messages whose subject lacks the phrase, where the headline index has only subjects' pairs."""
    tsquery = func.websearch_to_tsquery(
        literal_column("'simple'::regconfig"), bindparam("text", _JOINERS.sub(" ", text))
    )
    in_text, in_headline = _Test(_VECTOR, tsquery), _Test(_HEADLINE, tsquery)
    tenant = _COLUMNS.tenant_id == query.tenant_id
    phrases = _phrase_pairs(text)
    held_in_headline: list[ColumnElement[bool]] = [
        func.mailroom_word_pairs(_HEADLINE).op("@>")(pairs) for pairs in phrases
    ]  # with a phrase, the pairs alone: the planner would multiply their rarity by the words'
    headline = _Tier(
        candidates=select(literal_column("1")).where(tenant, *(held_in_headline or [in_headline.indexed])),
        indexed=[*held_in_headline, in_headline.filtered, in_text.filtered]
        if held_in_headline
        else [in_headline.indexed, *_flags_as_indexed(query), in_text.filtered],
        filtered=[in_headline.filtered, in_text.filtered],
    )
    cursor, wanted = page.cursor, page.limit + 1
    found: list[tuple[Row[Any], float | None]] = []
    if cursor is None or (cursor.score or 0.0) >= 1:
        found = [(row, 1.0) for row in await _newest_matching(session, base, headline, query, cursor, wanted)]
        cursor = None
    if len(found) < wanted:  # the body tier (and its look at the word-pair queue) only when subjects fall short
        body_only = await _body_tier(session, query.tenant_id, phrases, in_text, in_headline)
        rows = await _newest_matching(session, base, body_only, query, cursor, wanted - len(found))
        found += [(row, 0.0) for row in rows]
    return found


async def _body_tier(
    session: AsyncSession, tenant_id: UUID, phrases: list[ColumnElement[Any]], in_text: "_Test", in_headline: "_Test"
) -> "_Tier":
    """Matches in the body alone: by the word pairs of whole messages and the queue of those awaiting theirs
    when the search has a phrase and few wait (migration 0012), else by the body's words."""
    in_body_only = [in_text.filtered, not_(in_headline.filtered)]
    if phrases and await _few_pending(session, tenant_id):
        held = [_PAIRS.c.tenant_id == tenant_id, *(_PAIRS.c.pairs.op("@>")(pairs) for pairs in phrases)]
        return _Tier(
            candidates=select(literal_column("1")).select_from(_PAIRS).where(*held),
            indexed=in_body_only,
            filtered=in_body_only,
            pairs=union(
                select(_PAIRS.c.message_id, _PAIRS.c.internal_date).where(*held),
                select(_PENDING.c.message_id, _PENDING.c.internal_date).where(_PENDING.c.tenant_id == tenant_id),
            ),
        )
    return _Tier(
        candidates=select(literal_column("1")).where(_COLUMNS.tenant_id == tenant_id, in_text.indexed),
        indexed=[in_text.indexed, not_(in_headline.filtered)],
        filtered=in_body_only,
    )


def _phrase_pairs(text: str) -> list[ColumnElement[Any]]:
    """For each phrase the search requires, its adjacent word pairs, as Postgres splits it for
    websearch_to_tsquery. Every message with the phrase holds them (in the subject and addresses: migration 0009;
    anywhere: the `message_word_pairs` of migration 0012); few without it do, so a pair index finds a rare phrase
    of common words where the word index offers every message with both words. Custom plans
    (adapters.persistence.database) fold the phrase's pairs into a constant."""
    return [
        func.mailroom_word_pairs(
            func.to_tsvector(literal_column("'simple'::regconfig"), bindparam(f"phrase_{n}", _JOINERS.sub(" ", phrase)))
        )
        for n, phrase in enumerate(required_phrases(text))
    ]


async def _few_pending(session: AsyncSession, tenant_id: UUID) -> bool:
    """Whether the messages still awaiting their word pairs (migration 0012) are few enough to check in full."""
    waiting: Select[Any] = select(literal_column("1")).where(_PENDING.c.tenant_id == tenant_id).limit(MOST_PENDING + 1)
    count = select(func.count()).select_from(waiting.subquery())
    return (await session.execute(count)).scalar_one() <= MOST_PENDING


async def index_word_pairs(session: AsyncSession, batch: int) -> int:
    """Moves up to `batch` pending messages (any tenant's, in the order they were stored, by their time-ordered
    ids) into `message_word_pairs`; another worker doing the same at once takes other messages (SKIP LOCKED).
    Returns how many left the queue. Postgres only; elsewhere nothing waits."""
    if session.get_bind().dialect.name != "postgresql":
        return 0
    taken = (
        select(_PENDING.c.message_id)
        .order_by(_PENDING.c.message_id)
        .limit(batch)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    moved = delete(_PENDING).where(_PENDING.c.message_id.in_(taken)).returning(_PENDING.c.message_id).cte("moved")
    pairs = select(
        _COLUMNS.id, _COLUMNS.tenant_id, _COLUMNS.internal_date, func.mailroom_word_pairs(_VECTOR)
    ).join_from(MessageModel, moved, moved.c.message_id == _COLUMNS.id)
    stored = (
        pg_insert(_PAIRS)
        .from_select(["message_id", "tenant_id", "internal_date", "pairs"], pairs)
        .on_conflict_do_nothing()
        .cte("stored")
    )
    taken_count = select(func.count()).select_from(moved).add_cte(stored)
    return int((await session.execute(taken_count)).scalar_one())


class _Test:
    """`vector @@ query` twice over: as the operator, which a full-text index serves, and as its function, which
    none does, so that the planner drives the query from the date window or from another condition's index."""

    def __init__(self, vector: ColumnElement[Any], tsquery: ColumnElement[Any]) -> None:
        self.indexed: ColumnElement[bool] = vector.op("@@")(tsquery)
        self.filtered: ColumnElement[bool] = func.ts_match_vq(vector, tsquery)


@dataclass(frozen=True)
class _Tier:
    """Messages meeting `indexed` (or `filtered`, the same test). `candidates`: the rows an index yields for
    them, each to be read and checked (for a phrase without pairs: every message with all of its words).
    `pairs`: where a phrase's word pairs name the candidates instead (message ids and dates)."""

    candidates: Select[Any]
    indexed: list[ColumnElement[bool]]
    filtered: list[ColumnElement[bool]]
    pairs: CompoundSelect[Any] | None = None


async def _newest_matching(
    session: AsyncSession, base: Select[Any], tier: _Tier, query: MessageQuery, cursor: Cursor | None, wanted: int
) -> list[Row[Any]]:
    """The newest `wanted` messages of `base` in `tier`, found in one of the ways below, which the planner cannot
    choose well itself, as it estimates a phrase as the AND of its words.

    When an index yields few candidates (by the planner's estimate, FEW_CANDIDATES), all matches are read and
    sorted. Otherwise matches are looked for among the newest RECENT_WINDOW messages of `base`, then among as
    many of the newest as the matches found suggest will do (up to WIDEST_WINDOW); if a window holds `wanted`
    matches, they are the newest of all, as everything outside it is older. When that fails too, the candidates
    among the tenant's newest RECENT_SPAN messages are read (the planner ANDs the full-text index with the date
    index, so only those rows are visited), and only if they are too few are all candidates read. The windows
    are skipped when even the widest could not fill the page (`_windows_may_do`), and the newest RECENT_SPAN
    when the search ends before them (`_may_reach_the_newest`). Each way is slow where another is quick: all
    the matches of a common word are many rows to read and sort; walking the date index for a rare phrase
    passes every message that lacks it; and of the many candidates of a phrase of common words, only those
    among the newest RECENT_SPAN messages need reading when they fill the page."""
    candidates = await estimated_rows(session, tier.candidates)
    if candidates > FEW_CANDIDATES:
        if await _windows_may_do(session, query.tenant_id, candidates, wanted):
            rows = await _in_windows(session, base, tier, cursor, wanted)
            if len(rows) == wanted:
                return rows
        since = None
        if tier.pairs is None and await _may_reach_the_newest(session, query):
            since = await _date_of_newest(session, query.tenant_id, cursor, RECENT_SPAN)
        if since is not None and (query.before is None or since < query.before):
            rows = await _rows(session, _all_matches(base.where(_COLUMNS.internal_date >= since), tier, cursor), wanted)
            if len(rows) == wanted:
                return rows
    if tier.pairs is not None:
        return await _rows(session, _by_pairs(base, tier, cursor), wanted)
    return await _rows(session, _all_matches(base, tier, cursor), wanted)


async def _in_windows(
    session: AsyncSession, base: Select[Any], tier: _Tier, cursor: Cursor | None, wanted: int
) -> list[Row[Any]]:
    window = RECENT_WINDOW
    while True:
        rows = await _rows(session, _in_newest(base, tier.filtered, cursor, window), wanted)
        window = ceil(window * wanted / max(len(rows), 1) * 1.5)
        if len(rows) == wanted or not rows or window > WIDEST_WINDOW:
            return rows


async def _may_reach_the_newest(session: AsyncSession, query: MessageQuery) -> bool:
    """Whether a search ending at `before` may reach into the tenant's newest RECENT_SPAN messages, by the
    planner's estimate of those after it (finding the date where they start walks RECENT_SPAN index entries)."""
    if query.before is None:
        return True
    newer: Select[Any] = select(literal_column("1")).where(
        _COLUMNS.tenant_id == query.tenant_id, _COLUMNS.internal_date >= query.before
    )
    return await estimated_rows(session, newer) < RECENT_SPAN * 2


async def _windows_may_do(session: AsyncSession, tenant_id: UUID, candidates: float, wanted: int) -> bool:
    """Whether the widest window may hold `wanted` matches, at the density of the index's candidates among the
    tenant's messages (an upper bound: the candidates hold the matches; a search's filters thin both alike). A
    word rare among them leaves the window short of matches, and the index's candidates are read after it
    anyway. The tenant's size is estimated once a session (a search asks for each of its tiers)."""
    key = ("mailroom.tenant_messages", tenant_id)
    if key not in session.info:
        tenant: Select[Any] = select(literal_column("1")).where(_COLUMNS.tenant_id == tenant_id)
        session.info[key] = await estimated_rows(session, tenant)
    messages: float = session.info[key]
    return WIDEST_WINDOW * candidates >= wanted * messages


def _all_matches(base: Select[Any], tier: _Tier, cursor: Cursor | None) -> Select[Any]:
    matches = base.where(*tier.indexed).cte("matches").prefix_with("MATERIALIZED")
    everything = select(matches).order_by(matches.c.internal_date.desc(), matches.c.id.desc())
    if cursor is not None:
        everything = everything.where(tuple_(matches.c.internal_date, matches.c.id) < tuple_(cursor.date, cursor.id))
    return everything


async def _date_of_newest(session: AsyncSession, tenant_id: UUID, cursor: Cursor | None, count: int) -> Any:
    """The date of the tenant's `count`th newest message (after the cursor), from the date index alone; None when
    it has fewer. Of the tenant's messages, not of those passing the search's filters: under rare filters
    finding that one would walk the date index past every message that fails them."""
    newest = _newest_first(select(_COLUMNS.internal_date).where(_COLUMNS.tenant_id == tenant_id), cursor)
    return (await session.execute(newest.offset(count - 1).limit(1))).scalar_one_or_none()


def _by_pairs(base: Select[Any], tier: _Tier, cursor: Cursor | None) -> Select[Any]:
    """The candidates the pairs name, newest first, each message read and checked in that order until enough
    match (ids and dates sit in the pairs' table, so no message is read to sort them)."""
    assert tier.pairs is not None
    candidates = tier.pairs.cte("candidates").prefix_with("MATERIALIZED")
    statement = base.join(candidates, candidates.c.message_id == _COLUMNS.id).where(*tier.filtered)
    if cursor is not None:
        statement = statement.where(
            tuple_(candidates.c.internal_date, candidates.c.message_id) < tuple_(cursor.date, cursor.id)
        )
    return statement.order_by(candidates.c.internal_date.desc(), candidates.c.message_id.desc())


def _in_newest(
    base: Select[Any], conditions: list[ColumnElement[bool]], cursor: Cursor | None, window: int
) -> Select[Any]:
    """Materialized, or the planner may run the window again for every candidate of a join."""
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


async def _newest_page(session: AsyncSession, query: MessageQuery, page: PageAfter) -> KeysetPage[MessageSummary]:
    """A page without full text, newest first: every list request. Its statement is built once for each set of
    conditions and run with this query's values: building one and working out its cache key is the same work
    for every request with the same filters."""
    values = _filter_values(query)
    if page.cursor is not None:
        values |= {"cursor_date": page.cursor.date, "cursor_id": page.cursor.id}
    statement = _newest_statement(tuple(values))
    connection = await session.connection()
    rows = (await connection.execute(statement, values | {"page_rows": page.limit + 1})).all()
    return _page([(row, None) for row in rows], page.limit)


@lru_cache(maxsize=512)
def _newest_statement(names: tuple[str, ...]) -> Select[Any]:
    """The statement for the conditions `names`, each a bound parameter of that name."""
    m = _COLUMNS
    statement = select(*SUMMARY_COLUMNS).where(
        *(_CONDITIONS[name](bindparam(name)) for name in names if name in _CONDITIONS)
    )
    if "cursor_date" in names:
        after = tuple_(bindparam("cursor_date", type_=m.internal_date.type), bindparam("cursor_id", type_=m.id.type))
        statement = statement.where(tuple_(m.internal_date, m.id) < after)
    return statement.order_by(m.internal_date.desc(), m.id.desc()).limit(bindparam("page_rows"))


def _filters(query: MessageQuery) -> list[ColumnElement[bool]]:
    return [_CONDITIONS[name](value) for name, value in _filter_values(query).items()]


def _filter_values(query: MessageQuery) -> dict[str, Any]:
    """The query's conditions as values by the name of their `_CONDITIONS` entry. The parts of addresses and
    subjects are LIKE patterns, their own `%`, `_` and `/` escaped."""
    values: dict[str, Any] = {"tenant_id": query.tenant_id}
    if query.account_id is not None:
        values["account_id"] = query.account_id
    if query.mailbox_id is not None:
        values["mailbox_id"] = query.mailbox_id
    if query.unread is not None:
        values["seen"] = not query.unread
    if query.flagged is not None:
        values["flagged"] = query.flagged
    if query.has_attachments is not None:
        values["has_attachments"] = query.has_attachments
    if query.since is not None:
        values["since"] = query.since
    if query.before is not None:
        values["before"] = query.before
    if query.sender is not None and _ADDRESS.match(query.sender):
        values["from_address"] = query.sender.lower()
    elif query.sender is not None:
        values["from_text"] = _containing(query.sender.lower())
    if query.recipient is not None:
        values["to_text"] = _containing(query.recipient.lower())
    if query.subject is not None:
        values["subject"] = _containing(query.subject.lower())
    return values


def _flags_as_indexed(query: MessageQuery) -> list[ColumnElement[bool]]:
    """The query's flag conditions as the subject-and-address index holds them, as integers (migration 0013), so
    that it drops the messages that fail them before any is read. `base` states them as booleans too."""
    values = _filter_values(query)
    return [cast(_COLUMNS[name], Integer) == int(values[name]) for name in _FLAGS if name in values]


_FLAGS = ("seen", "flagged", "has_attachments")


def _containing(text: str) -> str:
    return "%" + text.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"


_CONDITIONS: dict[str, Callable[[Any], ColumnElement[bool]]] = {
    "tenant_id": lambda value: _COLUMNS.tenant_id == value,
    "account_id": lambda value: _COLUMNS.account_id == value,
    "mailbox_id": lambda value: _COLUMNS.mailbox_id == value,
    "seen": lambda value: _COLUMNS.seen == value,
    "flagged": lambda value: _COLUMNS.flagged == value,
    "has_attachments": lambda value: _COLUMNS.has_attachments == value,
    "since": lambda value: _COLUMNS.internal_date >= value,
    "before": lambda value: _COLUMNS.internal_date < value,
    "from_address": lambda value: _COLUMNS.from_address == value,
    "from_text": lambda value: _COLUMNS.from_text.like(value, escape="/"),
    "to_text": lambda value: _COLUMNS.to_text.like(value, escape="/"),
    "subject": lambda value: func.lower(_COLUMNS.subject).like(value, escape="/"),
}


def _newest_first(statement: Select[Any], cursor: Cursor | None) -> Select[Any]:
    """After the cursor as one row comparison, which the date index takes as where to start; written as an OR,
    it would be a filter, and a later page would read every row before it from the table."""
    m = _COLUMNS
    if cursor is not None:
        statement = statement.where(tuple_(m.internal_date, m.id) < tuple_(cursor.date, cursor.id))
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
