"""Handing a unit of work's read-only transaction on to the next unit of work of the same request.

Every authenticated API request reads its token's user in a unit of work of its own, before the handler's. The
token check runs inside `with hand_on():` (the ReadHandOn port, given to the auth middleware by the container):
such a unit of work, if it only read, leaves its transaction open, and the next one goes on in it (SqlUnitOfWork),
rescoped if its tenant scope differs. That is a ROLLBACK, a BEGIN and a session fewer for every request. Only
statements SQLAlchemy built as plain SELECTs count as reads; anything else marks the transaction, which then ends
as before. Postgres only: SQLite does not begin a transaction to read.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import Connection, Select, event
from sqlalchemy.engine import ExecutionContext
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from adapters.persistence.tenant_scope import SET_SCOPE
from domain.ports.persistence import ReadHandOn

_WROTE = "mailroom.wrote"


class TransactionHandOn(ReadHandOn):
    """The one place the hand-on lives: `with hand_on():` marks the units of work whose read-only transaction may
    be handed on, `takes(session)` tells a unit of work leaving uncommitted whether to keep its session for the
    next one, and `watch(engine)` notes, on that engine's connections, whether a transaction may have written.

    A transaction counts as read-only only on an engine it watches (the app's, from the composition root): on any
    other, nothing is handed on. A unit of work built without a hand-on never hands on either.
    """

    def __init__(self) -> None:
        self._handing_on: ContextVar[bool] = ContextVar("hand_on_reads", default=False)

    def watch(self, engine: AsyncEngine) -> None:
        event.listen(engine.sync_engine, "begin", _nothing_written_yet)
        event.listen(engine.sync_engine, "before_cursor_execute", _note_writes)

    @contextmanager
    def __call__(self) -> Iterator[None]:
        token = self._handing_on.set(True)
        try:
            yield
        finally:
            self._handing_on.reset(token)

    async def takes(self, session: AsyncSession) -> bool:
        """Whether a unit of work leaving `session` without committing hands its transaction on: inside
        `with hand_on():`, and only if the transaction read and nothing else, on Postgres."""
        return self._handing_on.get() and await _only_read(session)


async def _only_read(session: AsyncSession) -> bool:
    if not session.in_transaction() or session.new or session.dirty or session.deleted:
        return False
    connection = await session.connection()
    return connection.dialect.name == "postgresql" and connection.info.get(_WROTE) is False


def _nothing_written_yet(connection: Connection) -> None:
    connection.info[_WROTE] = False


def _note_writes(
    connection: Connection, _cursor: Any, _sql: str, _parameters: Any, context: ExecutionContext | None, _many: bool
) -> None:
    """Every statement but a plain SELECT built with SQLAlchemy (no FOR UPDATE), and the tenant scope's own, may
    have written or locked something."""
    statement = getattr(getattr(context, "compiled", None), "statement", None)
    if statement is SET_SCOPE or (isinstance(statement, Select) and statement._for_update_arg is None):
        return
    connection.info[_WROTE] = True
