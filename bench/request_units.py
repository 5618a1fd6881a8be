"""`uv run just bench-request-db --database NAME`: the database work of one authenticated list request, in-process
and without HTTP, on a database `uv run just bench-search --keep` kept: the token's user read in a unit of work
of its own, then the first page of an account's messages in another. Measured both ways in the same run, in
alternating rounds of 1,000: with the token check's transaction ended before the page's begins (the baseline),
and handed on to it (what the API does, adapters.persistence.hand_on.TransactionHandOn). Prints the CPU per
request of each round, the medians and their ratio."""

import argparse
import asyncio
import contextlib
import statistics
import time

from sqlalchemy import text

from adapters.persistence.database import create_engine, create_session_factory
from adapters.persistence.hand_on import TransactionHandOn
from adapters.persistence.tenant_scope import RowLevelTenantScope
from adapters.persistence.unit_of_work import SqlUnitOfWork
from domain.search import MessageQuery, PageAfter


async def measure(url: str, rounds: int, requests: int) -> dict[bool, list[float]]:
    engine = create_engine(url)
    hand_on = TransactionHandOn()
    hand_on.watch(engine)  # as the app's engine is
    factory = create_session_factory(engine)
    async with engine.connect() as connection:
        user_id, tenant_id = (await connection.execute(text("SELECT id, tenant_id FROM users LIMIT 1"))).one()
        account_id = (await connection.execute(text("SELECT id FROM mail_accounts LIMIT 1"))).scalar_one()
    query = MessageQuery(tenant_id=tenant_id, account_id=account_id)
    scope = RowLevelTenantScope()

    async def request(handed_on: bool) -> None:
        uow = SqlUnitOfWork(factory, hand_on)
        with scope(tenant_id), hand_on() if handed_on else contextlib.nullcontext():
            async with uow:
                await uow.users.get(user_id)
        with scope(tenant_id):
            async with uow:
                await uow.messages.search(query, PageAfter(limit=50))
        await uow.close()

    cpu: dict[bool, list[float]] = {False: [], True: []}
    try:
        for _ in range(rounds):
            for handed_on in (False, True):
                for _ in range(requests // 10):
                    await request(handed_on)
                started = time.process_time()
                for _ in range(requests):
                    await request(handed_on)
                cpu[handed_on].append((time.process_time() - started) / requests * 1000)
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
    for handed_on, label in ((False, "token check's transaction ended"), (True, "handed on to the page")):
        runs = ", ".join(f"{value:.2f}" for value in cpu[handed_on])
        print(f"{label:<32} CPU ms a request: {runs}; median {statistics.median(cpu[handed_on]):.2f}")
    print(f"ratio (handed on / ended): {statistics.median(cpu[True]) / statistics.median(cpu[False]):.2f}")


if __name__ == "__main__":
    main()
