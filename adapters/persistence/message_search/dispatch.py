"""Which statements answer a query: the list's without full text, else the database's full-text search."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.persistence.mail_mappers import SUMMARY_COLUMNS
from adapters.persistence.message_search.conditions import filters, newest_page
from adapters.persistence.message_search.pages import keyset_page
from adapters.persistence.message_search.postgres_tiers import PostgresTiers
from adapters.persistence.message_search.sqlite_fts import sqlite_search
from adapters.persistence.message_search.tuning import SearchTuning
from domain.messages import MessageSummary
from domain.search import KeysetPage, MessageQuery, PageAfter


async def search(
    session: AsyncSession, query: MessageQuery, page: PageAfter, tuning: SearchTuning
) -> KeysetPage[MessageSummary]:
    if query.text is None:
        return await newest_page(session, query, page)
    base = select(*SUMMARY_COLUMNS).where(*filters(query))
    if session.get_bind().dialect.name == "postgresql":
        tiers = PostgresTiers(session, tuning)
        return keyset_page(await tiers(base, query, query.text, page), page.limit)
    return await sqlite_search(session, base, query.text, page)
