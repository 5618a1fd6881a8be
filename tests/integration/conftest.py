import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from uuid import uuid4

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.memory.unit_of_work import MemoryUnitOfWork
from adapters.persistence.database import create_engine, create_session_factory
from adapters.persistence.migrations import upgrade
from adapters.persistence.unit_of_work import SqlUnitOfWork
from domain.ports.persistence import UnitOfWork
from tests.conftest import require_service
from tests.s3_server import s3_server  # noqa: F401 - the session's SeaweedFS, for the blob store suites


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh database on the server named by MAILROOM_TEST_POSTGRES_URL, migrated, dropped afterwards."""
    admin_url = require_service(
        "postgres", "MAILROOM_TEST_POSTGRES_URL", "e.g. postgresql://postgres@127.0.0.1:5432/postgres"
    )
    name = f"mailroom_test_{uuid4().hex[:12]}"
    run_sql(admin_url, f'CREATE DATABASE "{name}"')
    url = make_url(admin_url).set(drivername="postgresql+asyncpg", database=name)
    yield url.render_as_string(hide_password=False)
    run_sql(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    run_sql(admin_url, f'DROP ROLE IF EXISTS "{name}_app"')


def run_sql(url: str, sql: str) -> None:
    """One statement on a Postgres URL, from sync code (a fixture may be set up inside a running event loop)."""
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)

    async def execute() -> None:
        connection = await asyncpg.connect(dsn)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, execute()).result()


@pytest.fixture(scope="session")
def app_role_url(postgres_url: str) -> str:
    """The session database as the service should reach it in production: through a role that may read and write
    the tables but does not own them, is no superuser and cannot bypass row-level security."""
    url = make_url(postgres_url)
    role, password = f"{url.database}_app", secrets.token_hex(16)
    statements = [
        f"CREATE ROLE \"{role}\" LOGIN PASSWORD '{password}' NOSUPERUSER NOBYPASSRLS",
        f'GRANT USAGE ON SCHEMA public TO "{role}"',
        f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{role}"',
        f'ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "{role}"',
    ]
    for statement in statements:
        run_sql(postgres_url, statement)
    return url.set(username=role, password=password).render_as_string(hide_password=False)


@asynccontextmanager
async def migrated_engine(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """An empty, migrated database: a SQLite file, or the session's Postgres database emptied afterwards."""
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'mailroom.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = create_engine(url)
    await upgrade(engine)
    try:
        yield engine
    finally:
        if kind == "postgres":
            async with engine.begin() as connection:
                await connection.exec_driver_sql("TRUNCATE tenants CASCADE")
        await engine.dispose()


@pytest.fixture
def redis_url() -> str:
    return require_service("redis", "MAILROOM_TEST_REDIS_URL", "e.g. redis://127.0.0.1:6379/15")


def env_without_mailroom() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("MAILROOM_")}


@pytest.fixture(params=["sqlite", "postgres", "memory"])
async def make_uow(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Callable[[], UnitOfWork]]:
    """Unit-of-work factories over one database of each kind (and the fake), for the contract suites."""
    if request.param == "memory":
        fake = MemoryUnitOfWork()
        yield lambda: MemoryUnitOfWork(fake.store)
        return
    async with migrated_engine(request.param, request, tmp_path) as engine:
        factory = create_session_factory(engine)
        yield lambda: SqlUnitOfWork(factory)
