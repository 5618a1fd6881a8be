"""`uv run just bench-request-db --database NAME`: the database work of one authenticated list request, in-process
and without HTTP, on a database `uv run just bench-search --keep` kept. Three kinds, measured in the same run in
alternating rounds of 1,000 requests:

- `user read + page` (the baseline): the token check as it was before access tokens carried their role and
  session, reading the token's user in a unit of work handed on to the page's (the first page of an account's
  messages);
- `admin: page`: what an admin's session costs now, the page alone (the token is checked without the database);
- `member: reach + page`: a member's, the reach of the member into the account (one statement), then the page, in
  one transaction.

Prints the CPU per request of each round, the medians and their ratios to the baseline."""

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

from sqlalchemy import text

from adapters.persistence.database import create_engine, create_session_factory
from adapters.persistence.hand_on import TransactionHandOn
from adapters.persistence.tenant_scope import RowLevelTenantScope
from adapters.persistence.unit_of_work import SqlUnitOfWork
from domain.ids import new_id
from domain.search import MessageQuery, PageAfter

KINDS = ("user read + page", "admin: page", "member: reach + page")


async def measure(url: str, rounds: int, requests: int) -> dict[str, list[float]]:
    engine = create_engine(url)
    hand_on = TransactionHandOn()
    hand_on.watch(engine)  # as the app's engine is
    factory = create_session_factory(engine)
    async with engine.connect() as connection:
        user_id, tenant_id = (await connection.execute(text("SELECT id, tenant_id FROM users LIMIT 1"))).one()
        account_id = (await connection.execute(text("SELECT id FROM mail_accounts LIMIT 1"))).scalar_one()
    query = MessageQuery(tenant_id=tenant_id, account_id=account_id)
    scope, member = RowLevelTenantScope(), new_id()

    async def user_read_then_page() -> None:
        uow = SqlUnitOfWork(factory, hand_on)
        with scope(tenant_id), hand_on():
            async with uow:
                await uow.users.get(user_id)
        with scope(tenant_id):
            async with uow:
                await uow.messages.search(query, PageAfter(limit=50))
        await uow.close()

    async def page() -> None:
        uow = SqlUnitOfWork(factory, hand_on)
        with scope(tenant_id):
            async with uow:
                await uow.messages.search(query, PageAfter(limit=50))
        await uow.close()

    async def reach_then_page() -> None:
        uow = SqlUnitOfWork(factory, hand_on)
        with scope(tenant_id):
            async with uow:
                await uow.grants.reach(tenant_id, member, account_id)
                await uow.messages.search(query, PageAfter(limit=50))
        await uow.close()

    kinds: dict[str, Callable[[], Awaitable[None]]] = dict(
        zip(KINDS, (user_read_then_page, page, reach_then_page), strict=True)
    )
    cpu: dict[str, list[float]] = {kind: [] for kind in KINDS}
    try:
        for _ in range(rounds):
            for kind, request in kinds.items():
                for _ in range(requests // 10):
                    await request()
                started = time.process_time()
                for _ in range(requests):
                    await request()
                cpu[kind].append((time.process_time() - started) / requests * 1000)
    finally:
        await engine.dispose()
    return cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", required=True, help="a database bench-search kept")
    parser.add_argument("--server", default="postgresql+asyncpg://postgres@127.0.0.1:5432")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()
    cpu = asyncio.run(measure(f"{args.server}/{args.database}", args.rounds, args.requests))
    baseline = statistics.median(cpu[KINDS[0]])
    for kind in KINDS:
        runs = ", ".join(f"{value:.2f}" for value in cpu[kind])
        median = statistics.median(cpu[kind])
        print(f"{kind:<22} CPU ms a request: {runs}; median {median:.2f}; ratio to the first {median / baseline:.2f}")


if __name__ == "__main__":
    main()
