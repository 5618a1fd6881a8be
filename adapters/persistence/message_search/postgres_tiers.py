"""Full text on Postgres: two tiers, each newest first, instead of a ranking."""

import re
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, Select, bindparam, func, literal_column, not_, select, union
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.persistence.message_search.conditions import flags_as_indexed
from adapters.persistence.message_search.newest_matches import NewestMatches, RankingTier
from adapters.persistence.message_search.pages import COLUMNS
from adapters.persistence.message_search.tuning import SearchTuning
from adapters.persistence.message_search.word_pairs import AWAITING_PAIRS, SEARCH_VECTOR, WORD_PAIRS
from domain.search import MessageQuery, PageAfter, required_phrases

_HEADLINE_VECTOR: ColumnElement[Any] = literal_column("messages.headline_vector")  # subject and addresses
_JOINERS = re.compile(r"(?<=\w)[@.+_](?=\w)")  # split as the indexed text is (migration 0005)


class FullTextCondition:
    """`vector @@ query` twice over: as the operator, which a full-text index serves, and as its function, which
    none does, so that the planner drives the query from the date window or from another condition's index."""

    def __init__(self, vector: ColumnElement[Any], tsquery: ColumnElement[Any]) -> None:
        self.indexed: ColumnElement[bool] = vector.op("@@")(tsquery)
        self.filtered: ColumnElement[bool] = func.ts_match_vq(vector, tsquery)


class PostgresTiers:
    """Two tiers, each newest first: the messages whose subject or addresses match (score 1), then those that
    match in the body alone (score 0). Ranking matches by ts_rank meant reading and sorting every match, which
    for a common word or phrase is a large share of the mailbox; newest first, a tier is a page of the date
    index at a time whenever matches are dense (see `NewestMatches`).

    A required phrase names its candidates by word pairs: in subjects and addresses by an index of theirs
    (migration 0009); for the body tier, by the pairs of whole messages (migration 0012), those indexed and every
    message still waiting for the scheduled job, while few wait, else by the body's words as before that
    migration; without pairs, a rare phrase of common words means checking every message with both words. The
    pairs of whole messages do not serve the subject tier: for common words they are common in bodies, so they
    name many messages whose subject lacks the phrase, where the headline index has only subjects' pairs."""

    def __init__(self, session: AsyncSession, tuning: SearchTuning) -> None:
        self._session = session
        self._tuning = tuning
        self._newest_matching = NewestMatches(session, tuning)

    async def __call__(
        self, base: Select[Any], query: MessageQuery, text: str, page: PageAfter
    ) -> list[tuple[Row[Any], float | None]]:
        """The matches of `text` among `base` after the page's cursor, each with its tier's score."""
        tsquery = func.websearch_to_tsquery(
            literal_column("'simple'::regconfig"), bindparam("text", _JOINERS.sub(" ", text))
        )
        in_text, in_headline = FullTextCondition(SEARCH_VECTOR, tsquery), FullTextCondition(_HEADLINE_VECTOR, tsquery)
        tenant = COLUMNS.tenant_id == query.tenant_id
        phrases = _phrase_pairs(text) if self._tuning.phrase_pairs else []
        held_in_headline: list[ColumnElement[bool]] = [
            func.mailroom_word_pairs(_HEADLINE_VECTOR).op("@>")(pairs) for pairs in phrases
        ]  # with a phrase, the pairs alone: the planner would multiply their rarity by the words'
        headline = RankingTier(
            candidates=select(literal_column("1")).where(tenant, *(held_in_headline or [in_headline.indexed])),
            indexed=[*held_in_headline, in_headline.filtered, in_text.filtered]
            if held_in_headline
            else [in_headline.indexed, *flags_as_indexed(query), in_text.filtered],
            filtered=[in_headline.filtered, in_text.filtered],
        )
        cursor, wanted = page.cursor, page.limit + 1
        found: list[tuple[Row[Any], float | None]] = []
        if cursor is None or (cursor.score or 0.0) >= 1:
            rows = await self._newest_matching(base, headline, query, cursor, wanted)
            found = [(row, 1.0) for row in rows]
            cursor = None
        if len(found) < wanted:  # the body tier (and its look at the word-pair queue) only when subjects fall short
            body_only = await self._body_tier(query.tenant_id, phrases, in_text, in_headline)
            rows = await self._newest_matching(base, body_only, query, cursor, wanted - len(found))
            found += [(row, 0.0) for row in rows]
        return found

    async def _body_tier(
        self,
        tenant_id: UUID,
        phrases: list[ColumnElement[Any]],
        in_text: FullTextCondition,
        in_headline: FullTextCondition,
    ) -> RankingTier:
        """Matches in the body alone: by the word pairs of whole messages and the queue of those awaiting theirs
        when the search has a phrase and few wait (migration 0012), else by the body's words."""
        in_body_only = [in_text.filtered, not_(in_headline.filtered)]
        if phrases and await self._few_pending(tenant_id):
            held = [WORD_PAIRS.c.tenant_id == tenant_id, *(WORD_PAIRS.c.pairs.op("@>")(pairs) for pairs in phrases)]
            return RankingTier(
                candidates=select(literal_column("1")).select_from(WORD_PAIRS).where(*held),
                indexed=in_body_only,
                filtered=in_body_only,
                pairs=union(
                    select(WORD_PAIRS.c.message_id, WORD_PAIRS.c.internal_date).where(*held),
                    select(AWAITING_PAIRS.c.message_id, AWAITING_PAIRS.c.internal_date).where(
                        AWAITING_PAIRS.c.tenant_id == tenant_id
                    ),
                ),
            )
        return RankingTier(
            candidates=select(literal_column("1")).where(COLUMNS.tenant_id == tenant_id, in_text.indexed),
            indexed=[in_text.indexed, not_(in_headline.filtered)],
            filtered=in_body_only,
        )

    async def _few_pending(self, tenant_id: UUID) -> bool:
        """Whether the messages still awaiting their word pairs (migration 0012) are few enough to check in
        full."""
        most = self._tuning.most_pending
        waiting: Select[Any] = (
            select(literal_column("1")).where(AWAITING_PAIRS.c.tenant_id == tenant_id).limit(most + 1)
        )
        count = select(func.count()).select_from(waiting.subquery())
        return (await self._session.execute(count)).scalar_one() <= most


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
