"""The newest matches of one tier of a Postgres search, found in whichever way the planner's estimates suggest is
quick, as the planner cannot choose well itself: it estimates a phrase as the AND of its words."""

from dataclasses import dataclass
from math import ceil
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, CompoundSelect, Select, literal_column, select, tuple_
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.persistence.explain import estimated_rows
from adapters.persistence.message_search.pages import COLUMNS, first_rows, newest_first
from adapters.persistence.message_search.tuning import SearchTuning
from domain.search import Cursor, MessageQuery


@dataclass(frozen=True)
class RankingTier:
    """The messages of one score: those meeting `indexed` (or `filtered`, the same test). `candidates`: the rows
    an index yields for them, each to be read and checked (for a phrase without pairs: every message with all of
    its words). `pairs`: where a phrase's word pairs name the candidates instead (message ids and dates)."""

    candidates: Select[Any]
    indexed: list[ColumnElement[bool]]
    filtered: list[ColumnElement[bool]]
    pairs: CompoundSelect[Any] | None = None


class NewestMatches:
    """The newest `wanted` messages of `base` in a tier.

    When an index yields few candidates (by the planner's estimate, `few_candidates`), all matches are read and
    sorted. Otherwise matches are looked for among the newest `recent_window` messages of `base`, then among as
    many of the newest as the matches found suggest will do (up to `widest_window`); if a window holds `wanted`
    matches, they are the newest of all, as everything outside it is older. When that fails too, the candidates
    among the tenant's newest `recent_span` messages are read (the planner ANDs the full-text index with the
    date index, so only those rows are visited), and only if they are too few are all candidates read. The
    windows are skipped when even the widest could not fill the page (`_windows_may_do`), and the newest
    `recent_span` when the search ends before them (`_may_reach_the_newest`). Each way is slow where another is
    quick: all the matches of a common word are many rows to read and sort; walking the date index for a rare
    phrase passes every message that lacks it; and of the many candidates of a phrase of common words, only
    those among the newest `recent_span` messages need reading when they fill the page."""

    def __init__(self, session: AsyncSession, tuning: SearchTuning) -> None:
        self._session = session
        self._tuning = tuning

    async def __call__(
        self, base: Select[Any], tier: RankingTier, query: MessageQuery, cursor: Cursor | None, wanted: int
    ) -> list[Row[Any]]:
        session, tuning = self._session, self._tuning
        candidates = await estimated_rows(session, tier.candidates)
        if candidates > tuning.few_candidates:
            if await self._windows_may_do(query.tenant_id, candidates, wanted):
                rows = await self._in_windows(base, tier, cursor, wanted)
                if len(rows) == wanted:
                    return rows
            since = None
            if tier.pairs is None and await self._may_reach_the_newest(query):
                since = await self._date_of_newest(query.tenant_id, cursor, tuning.recent_span)
            if since is not None and (query.before is None or since < query.before):
                recent = base.where(COLUMNS.internal_date >= since)
                rows = await first_rows(session, _all_matches(recent, tier, cursor), wanted)
                if len(rows) == wanted:
                    return rows
        if tier.pairs is not None:
            return await first_rows(session, _by_pairs(base, tier, cursor), wanted)
        return await first_rows(session, _all_matches(base, tier, cursor), wanted)

    async def _in_windows(
        self, base: Select[Any], tier: RankingTier, cursor: Cursor | None, wanted: int
    ) -> list[Row[Any]]:
        window = self._tuning.recent_window
        while True:
            rows = await first_rows(self._session, _in_newest(base, tier.filtered, cursor, window), wanted)
            window = ceil(window * wanted / max(len(rows), 1) * 1.5)
            if len(rows) == wanted or not rows or window > self._tuning.widest_window:
                return rows

    async def _may_reach_the_newest(self, query: MessageQuery) -> bool:
        """Whether a search ending at `before` may reach into the tenant's newest `recent_span` messages, by the
        planner's estimate of those after it (finding the date where they start walks `recent_span` index
        entries)."""
        if query.before is None:
            return True
        newer: Select[Any] = select(literal_column("1")).where(
            COLUMNS.tenant_id == query.tenant_id, COLUMNS.internal_date >= query.before
        )
        return await estimated_rows(self._session, newer) < self._tuning.recent_span * 2

    async def _windows_may_do(self, tenant_id: UUID, candidates: float, wanted: int) -> bool:
        """Whether the widest window may hold `wanted` matches, at the density of the index's candidates among
        the tenant's messages (an upper bound: the candidates hold the matches; a search's filters thin both
        alike), unless the tuning says whether to try the windows. A word rare among them leaves the window short
        of matches, and the index's candidates are read after it anyway. The tenant's size is estimated once a
        session (a search asks for each of its tiers)."""
        if self._tuning.try_windows is not None:
            return self._tuning.try_windows
        key = ("mailroom.tenant_messages", tenant_id)
        if key not in self._session.info:
            tenant: Select[Any] = select(literal_column("1")).where(COLUMNS.tenant_id == tenant_id)
            self._session.info[key] = await estimated_rows(self._session, tenant)
        messages: float = self._session.info[key]
        return self._tuning.widest_window * candidates >= wanted * messages

    async def _date_of_newest(self, tenant_id: UUID, cursor: Cursor | None, count: int) -> Any:
        """The date of the tenant's `count`th newest message (after the cursor), from the date index alone; None
        when it has fewer. Of the tenant's messages, not of those passing the search's filters: under rare
        filters finding that one would walk the date index past every message that fails them."""
        newest = newest_first(select(COLUMNS.internal_date).where(COLUMNS.tenant_id == tenant_id), cursor)
        return (await self._session.execute(newest.offset(count - 1).limit(1))).scalar_one_or_none()


def _all_matches(base: Select[Any], tier: RankingTier, cursor: Cursor | None) -> Select[Any]:
    matches = base.where(*tier.indexed).cte("matches").prefix_with("MATERIALIZED")
    everything = select(matches).order_by(matches.c.internal_date.desc(), matches.c.id.desc())
    if cursor is not None:
        everything = everything.where(tuple_(matches.c.internal_date, matches.c.id) < tuple_(cursor.date, cursor.id))
    return everything


def _by_pairs(base: Select[Any], tier: RankingTier, cursor: Cursor | None) -> Select[Any]:
    """The candidates the pairs name, newest first, each message read and checked in that order until enough
    match (ids and dates sit in the pairs' table, so no message is read to sort them)."""
    assert tier.pairs is not None
    candidates = tier.pairs.cte("candidates").prefix_with("MATERIALIZED")
    statement = base.join(candidates, candidates.c.message_id == COLUMNS.id).where(*tier.filtered)
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
        newest_first(base.with_only_columns(COLUMNS.id), cursor).limit(window).cte("recent").prefix_with("MATERIALIZED")
    )
    return newest_first(base.where(COLUMNS.id.in_(select(recent.c.id)), *conditions), cursor)
