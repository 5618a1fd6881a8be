"""The planner's estimate of how many rows a query returns, without running it (EXPLAIN, Postgres only)."""

import json
from typing import Any

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.elements import ClauseElement


class _Explain(Executable, ClauseElement):
    inherit_cache = False

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement


@compiles(_Explain, "postgresql")
def _compile(element: _Explain, compiler: Any, **kw: Any) -> str:
    return "EXPLAIN (FORMAT JSON) " + str(compiler.process(element.statement, **kw))


async def estimated_rows(session: AsyncSession, statement: Select[Any]) -> float:
    """The planner's estimate: one round trip, the statement planned but not run; the values stay bound
    parameters. The statement's result columns must have no types that convert values (select a literal), or
    they would be applied to the plan. The plan comes decoded where the driver decodes json (asyncpg under
    SQLAlchemy does), else as text."""
    plan = (await session.execute(_Explain(statement))).scalar_one()
    tree = json.loads(plan) if isinstance(plan, str) else plan
    return float(tree[0]["Plan"]["Plan Rows"])
