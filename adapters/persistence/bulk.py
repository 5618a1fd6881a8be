"""Bulk inserts: Postgres COPY through the asyncpg connection under the session, plain INSERT elsewhere.

SQLAlchemy has no COPY for asyncpg (sqlalchemy#11710); its executemany INSERT of a sync batch cost about as much
as parsing it. COPY writes the same rows in the session's own transaction, several times faster. A role under
row-level security cannot COPY, so it gets the INSERT."""

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
from sqlalchemy import JSON, Table, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

AUDIT_COLUMNS = ("created_at", "updated_at")


def _copy_value(value: Any, is_json: bool) -> Any:
    """asyncpg takes json and jsonb values as text."""
    return json.dumps(value) if is_json and value is not None else value


class DuplicateRow(Exception):
    """A row broke a unique or foreign-key constraint."""


async def insert_rows(session: AsyncSession, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Inserts `rows` (column -> value, the same columns in each; the audit timestamps are added here)."""
    if not rows:
        return
    now = datetime.now(UTC)
    if session.get_bind().dialect.name != "postgresql" or await _row_security_active(session, table):
        try:
            await session.execute(insert(table), [{**row, "created_at": now, "updated_at": now} for row in rows])
        except IntegrityError:
            raise DuplicateRow from None
        return
    columns = list(rows[0])
    as_json = [isinstance(table.c[name].type, JSON) for name in columns]
    records = [(*map(_copy_value, row.values(), as_json), now, now) for row in rows]
    connection = await (await session.connection()).get_raw_connection()
    try:
        await connection.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
            table.name, columns=[*columns, *AUDIT_COLUMNS], records=records
        )
    except asyncpg.IntegrityConstraintViolationError:
        raise DuplicateRow from None


async def _row_security_active(session: AsyncSession, table: Table) -> bool:
    """Postgres refuses COPY FROM into a table whose row-level security applies to the current role (a role that
    is not a superuser and does not bypass it): such a role inserts row by row."""
    active = await session.scalar(select(func.row_security_active(table.name)))
    return bool(active)
