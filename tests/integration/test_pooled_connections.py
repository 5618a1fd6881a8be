"""A pooled Postgres connection the server has closed (a restart, an idle timeout, an operator's
pg_terminate_backend) is replaced when it is next checked out: the request that gets it does not fail."""

import asyncio

from sqlalchemy import text

from adapters.persistence.database import create_engine

BACKEND = text("SELECT pg_backend_pid()")


async def test_a_connection_the_server_closed_is_replaced_on_checkout(postgres_url: str) -> None:
    engine, admin = create_engine(postgres_url), create_engine(postgres_url)
    try:
        async with engine.connect() as connection:
            first = (await connection.execute(BACKEND)).scalar_one()
        async with admin.connect() as connection:  # while the first waits in its pool
            assert (await connection.execute(text(f"SELECT pg_terminate_backend({first})"))).scalar_one()
        await asyncio.sleep(0.2)  # the server's close reaches the event loop

        async with engine.connect() as connection:
            second = (await connection.execute(BACKEND)).scalar_one()

        assert second != first
    finally:
        await engine.dispose()
        await admin.dispose()
