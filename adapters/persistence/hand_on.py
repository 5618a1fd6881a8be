"""Handing a unit of work's read-only transaction on to the next unit of work of the same request.

Every authenticated API request reads its token's user in a unit of work of its own, before the handler's.
Inside `handing_on_reads()` such a unit of work, if it only read, leaves its transaction open, and the next one
goes on in it (SqlUnitOfWork), rescoped if its tenant scope differs (the token check reads within the token's
tenant, so a request's does not): a ROLLBACK, a BEGIN and a session fewer for every request. Only statements
SQLAlchemy built as plain SELECTs count as reads; anything else marks the transaction, which then ends as
before. Postgres only: SQLite does not begin a transaction to read.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import Connection, Select, event
from sqlalchemy.engine import Engine, ExecutionContext
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from adapters.persistence.tenant_scope import SET_SCOPE, TenantScopedSession

_WROTE = "mailroom.wrote"
_hand_on_reads: ContextVar[bool] = ContextVar("hand_on_reads", default=False)


@contextmanager
def handing_on_reads() -> Iterator[None]:
    token = _hand_on_reads.set(True)
    try:
        yield
    finally:
        _hand_on_reads.reset(token)


def handing_on() -> bool:
    return _hand_on_reads.get()


async def only_read(session: AsyncSession) -> bool:
    """Whether the session's open transaction on Postgres ran nothing but plain SELECTs."""
    if not session.in_transaction() or session.new or session.dirty or session.deleted:
        return False
    connection = await session.connection()
    return connection.dialect.name == "postgresql" and connection.info.get(_WROTE) is False


@event.listens_for(TenantScopedSession, "after_begin")
def _nothing_written_yet(_session: Session, _transaction: SessionTransaction, connection: Connection) -> None:
    connection.info[_WROTE] = False


@event.listens_for(Engine, "before_cursor_execute")
def _note_writes(
    connection: Connection, _cursor: Any, _sql: str, _parameters: Any, context: ExecutionContext | None, _many: bool
) -> None:
    """Every statement but a plain SELECT built with SQLAlchemy (no FOR UPDATE), and the tenant scope's own, may
    have written or locked something."""
    statement = getattr(getattr(context, "compiled", None), "statement", None)
    if statement is SET_SCOPE or (isinstance(statement, Select) and statement._for_update_arg is None):
        return
    connection.info[_WROTE] = True
