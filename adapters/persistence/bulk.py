"""Bulk inserts on the asyncpg connection under the session (in its transaction): COPY where Postgres allows it,
else one INSERT of arrays; SQLAlchemy's INSERT on other databases.

SQLAlchemy has no COPY for asyncpg (sqlalchemy#11710); its executemany INSERT of a sync batch cost about as much
as parsing it. COPY writes the same rows several times faster. Postgres refuses COPY to a role under row-level
security (the service's own role, README "Running it safely"); for it the batch goes as one
`INSERT ... SELECT * FROM unnest($1::uuid[], ...)`, each column an array parameter: one statement for the whole
batch, whose rows the policies check one by one."""

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
from sqlalchemy import JSON, Dialect, Table, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.persistence.database import json_text

AUDIT_COLUMNS = ("created_at", "updated_at")


def _copy_value(value: Any, is_json: bool) -> Any:
    """asyncpg takes json and jsonb values as text, written as the engine writes JSON columns."""
    return json_text(value) if is_json and value is not None else value


class DuplicateRow(Exception):
    """A row broke a unique or foreign-key constraint."""


async def insert_rows(session: AsyncSession, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Inserts `rows` (column -> value, the same columns in each; the audit timestamps are added here)."""
    if not rows:
        return
    now = datetime.now(UTC)
    dialect = session.get_bind().dialect
    if dialect.name != "postgresql":
        try:
            await session.execute(insert(table), [{**row, "created_at": now, "updated_at": now} for row in rows])
        except IntegrityError:
            raise DuplicateRow from None
        return
    columns = [*rows[0], *AUDIT_COLUMNS]
    as_json = [isinstance(table.c[name].type, JSON) for name in columns]
    records = [(*map(_copy_value, (*row.values(), now, now), as_json),) for row in rows]
    connection = (await (await session.connection()).get_raw_connection()).driver_connection
    try:
        if await _row_security_active(session, table):
            arrays = [list(values) for values in zip(*records, strict=True)]
            await connection.execute(_insert_arrays(dialect, table, columns), *arrays)  # type: ignore[union-attr]
        else:
            await connection.copy_records_to_table(table.name, columns=columns, records=records)  # type: ignore[union-attr]
    except asyncpg.IntegrityConstraintViolationError:
        raise DuplicateRow from None


def _insert_arrays(dialect: Dialect, table: Table, columns: Sequence[str]) -> str:
    quote = dialect.identifier_preparer.quote
    arrays = ", ".join(
        f"${n}::{table.c[name].type.compile(dialect=dialect)}[]" for n, name in enumerate(columns, start=1)
    )
    names = ", ".join(map(quote, columns))
    return f"INSERT INTO {quote(table.name)} ({names}) SELECT * FROM unnest({arrays})"  # noqa: S608 - names from the metadata


async def _row_security_active(session: AsyncSession, table: Table) -> bool:
    """Postgres refuses COPY FROM into a table whose row-level security applies to the current role (a role that
    is not a superuser and does not bypass it): such a role inserts arrays."""
    active = await session.scalar(select(func.row_security_active(table.name)))
    return bool(active)
