"""A query's filters as SQL conditions, and the list without full text: one statement per set of conditions."""

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, bindparam, cast, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.persistence.mail_mappers import SUMMARY_COLUMNS
from adapters.persistence.message_search.pages import COLUMNS, keyset_page
from domain.messages import MessageSummary
from domain.search import KeysetPage, MessageQuery, PageAfter

_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+$")  # a whole address: equality on an index, not a trigram scan
_FLAGS = ("seen", "flagged", "has_attachments")
_LISTS = ("within_accounts",)
_CONDITIONS: dict[str, Callable[[Any], ColumnElement[bool]]] = {
    "tenant_id": lambda value: COLUMNS.tenant_id == value,
    "account_id": lambda value: COLUMNS.account_id == value,
    "within_accounts": lambda value: COLUMNS.account_id.in_(value),
    "mailbox_id": lambda value: COLUMNS.mailbox_id == value,
    "seen": lambda value: COLUMNS.seen == value,
    "flagged": lambda value: COLUMNS.flagged == value,
    "has_attachments": lambda value: COLUMNS.has_attachments == value,
    "since": lambda value: COLUMNS.internal_date >= value,
    "before": lambda value: COLUMNS.internal_date < value,
    "from_address": lambda value: COLUMNS.from_address == value,
    "from_text": lambda value: COLUMNS.from_text.like(value, escape="/"),
    "to_text": lambda value: COLUMNS.to_text.like(value, escape="/"),
    "subject": lambda value: func.lower(COLUMNS.subject).like(value, escape="/"),
}


async def newest_page(session: AsyncSession, query: MessageQuery, page: PageAfter) -> KeysetPage[MessageSummary]:
    """A page without full text, newest first: every list request. Its statement is built once for each set of
    conditions and run with this query's values: building one and working out its cache key is the same work
    for every request with the same filters."""
    values = _filter_values(query)
    if page.cursor is not None:
        values |= {"cursor_date": page.cursor.date, "cursor_id": page.cursor.id}
    statement = _newest_statement(tuple(values))
    connection = await session.connection()
    rows = (await connection.execute(statement, values | {"page_rows": page.limit + 1})).all()
    return keyset_page([(row, None) for row in rows], page.limit)


@lru_cache(maxsize=512)
def _newest_statement(names: tuple[str, ...]) -> Select[Any]:
    """The statement for the conditions `names`, each a bound parameter of that name."""
    m = COLUMNS
    statement = select(*SUMMARY_COLUMNS).where(
        *(_CONDITIONS[name](bindparam(name, expanding=name in _LISTS)) for name in names if name in _CONDITIONS)
    )
    if "cursor_date" in names:
        after = tuple_(bindparam("cursor_date", type_=m.internal_date.type), bindparam("cursor_id", type_=m.id.type))
        statement = statement.where(tuple_(m.internal_date, m.id) < after)
    return statement.order_by(m.internal_date.desc(), m.id.desc()).limit(bindparam("page_rows"))


def filters(query: MessageQuery) -> list[ColumnElement[bool]]:
    """The query's conditions other than its full text, with their values."""
    return [_CONDITIONS[name](value) for name, value in _filter_values(query).items()]


def flags_as_indexed(query: MessageQuery) -> list[ColumnElement[bool]]:
    """The query's flag conditions as the subject-and-address index holds them, as integers (migration 0013), so
    that it drops the messages that fail them before any is read. `filters` states them as booleans too."""
    values = _filter_values(query)
    return [cast(COLUMNS[name], Integer) == int(values[name]) for name in _FLAGS if name in values]


def _filter_values(query: MessageQuery) -> dict[str, Any]:
    """The query's conditions as values by the name of their `_CONDITIONS` entry. The parts of addresses and
    subjects are LIKE patterns, their own `%`, `_` and `/` escaped."""
    values: dict[str, Any] = {"tenant_id": query.tenant_id}
    if query.account_id is not None:
        values["account_id"] = query.account_id
    if query.mailbox_id is not None:
        values["mailbox_id"] = query.mailbox_id
    if query.within_accounts is not None:
        values["within_accounts"] = sorted(query.within_accounts)
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


def _containing(text: str) -> str:
    return "%" + text.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"
