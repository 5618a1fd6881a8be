"""TransactionHandOn (adapters.persistence.hand_on): a unit of work that only read, inside `with hand_on():`, leaves
its transaction to the next unit of work of the same object; anything that may have written or locked, a commit, an
engine the hand-on does not watch, a unit of work built without it, or SQLite, ends the transaction as usual.
A transaction handed on keeps its pooled connection checked out until a unit of work takes it or `close()` ends it.
"""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import Executable, event, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.persistence.database import create_session_factory
from adapters.persistence.hand_on import TransactionHandOn
from adapters.persistence.models import MailAccountModel
from adapters.persistence.unit_of_work import SqlUnitOfWork
from entrypoints.http.app import create_app
from entrypoints.operations import create_user
from entrypoints.settings import load_settings
from tests.e2e.conftest import PASSWORD
from tests.integration.conftest import migrated_engine

ACCOUNTS = MailAccountModel.__table__


@pytest.fixture
async def postgres(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    async with migrated_engine("postgres", request, tmp_path) as engine:
        yield engine


def watching(engine: AsyncEngine) -> TransactionHandOn:
    hand_on = TransactionHandOn()
    hand_on.watch(engine)
    return hand_on


async def transaction_start(uow: SqlUnitOfWork) -> object:
    """When the open unit of work's transaction began (the same for every statement of one transaction)."""
    return (await uow._session.execute(select(func.now()))).scalar_one()  # type: ignore[union-attr]


def connections_held(engine: AsyncEngine) -> int:
    return engine.pool.checkedout()  # type: ignore[attr-defined, no-any-return]


async def test_a_read_only_unit_of_work_hands_its_transaction_on_to_the_next_one(postgres: AsyncEngine) -> None:
    hand_on = watching(postgres)
    uow = SqlUnitOfWork(create_session_factory(postgres), hand_on)
    with hand_on():
        async with uow:
            began = await transaction_start(uow)
    assert connections_held(postgres) == 1
    async with uow:
        assert await transaction_start(uow) == began
    assert connections_held(postgres) == 0
    async with uow:
        assert await transaction_start(uow) != began


async def test_outside_the_hand_on_a_read_only_unit_of_work_ends_its_transaction(postgres: AsyncEngine) -> None:
    uow = SqlUnitOfWork(create_session_factory(postgres), watching(postgres))
    async with uow:
        await transaction_start(uow)
    assert connections_held(postgres) == 0


@pytest.mark.parametrize(
    "statement",
    [text("SELECT 1"), select(ACCOUNTS.c.id).with_for_update(), update(ACCOUNTS).values(name="renamed")],
    ids=["raw SQL", "SELECT FOR UPDATE", "UPDATE"],
)
async def test_a_statement_that_may_write_or_lock_ends_the_transaction(
    postgres: AsyncEngine, statement: Executable
) -> None:
    hand_on = watching(postgres)
    uow = SqlUnitOfWork(create_session_factory(postgres), hand_on)
    with hand_on():
        async with uow:
            await transaction_start(uow)
            await uow._session.execute(statement)  # type: ignore[union-attr]
    assert connections_held(postgres) == 0


async def test_a_committed_unit_of_work_hands_nothing_on(postgres: AsyncEngine) -> None:
    hand_on = watching(postgres)
    uow = SqlUnitOfWork(create_session_factory(postgres), hand_on)
    with hand_on():
        async with uow:
            await transaction_start(uow)
            await uow.commit()
    assert connections_held(postgres) == 0


async def test_nothing_is_handed_on_from_an_engine_the_hand_on_does_not_watch(postgres: AsyncEngine) -> None:
    hand_on = TransactionHandOn()
    uow = SqlUnitOfWork(create_session_factory(postgres), hand_on)
    with hand_on():
        async with uow:
            await transaction_start(uow)
    assert connections_held(postgres) == 0


async def test_a_unit_of_work_hands_on_only_inside_its_own_hand_on(postgres: AsyncEngine) -> None:
    factory, other = create_session_factory(postgres), watching(postgres)
    for uow in (SqlUnitOfWork(factory), SqlUnitOfWork(factory, TransactionHandOn())):
        with other():
            async with uow:
                await transaction_start(uow)
        assert connections_held(postgres) == 0


async def test_a_transaction_nobody_took_on_ends_with_close(postgres: AsyncEngine) -> None:
    hand_on = watching(postgres)
    uow = SqlUnitOfWork(create_session_factory(postgres), hand_on)
    with hand_on():
        async with uow:
            await transaction_start(uow)
    await uow.close()
    assert connections_held(postgres) == 0


async def test_on_sqlite_nothing_is_handed_on(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """SQLite begins no transaction to read, so there is nothing to save."""
    async with migrated_engine("sqlite", request, tmp_path) as engine:
        hand_on = watching(engine)
        uow = SqlUnitOfWork(create_session_factory(engine), hand_on)
        with hand_on():
            async with uow:
                await uow._session.execute(select(ACCOUNTS.c.id))  # type: ignore[union-attr]
        assert connections_held(engine) == 0


async def test_the_api_checks_a_credential_and_lists_accounts_in_one_transaction(
    request: pytest.FixtureRequest, tmp_path: Path, app_role_url: str
) -> None:
    """An authenticated read begins one transaction: an access token is checked without the database, and an API
    key's look-up (the composition root watches the app's engine and gives the hand-on to the credential check and
    to the request's unit of work) goes on into the page's transaction. Without inbox watches: the watch pool
    renews its leases on the same engine every few seconds, and a renewal during the request would count too."""
    async with migrated_engine("postgres", request, tmp_path):
        environment = {"MAILROOM_DATA_DIR": str(tmp_path), "MAILROOM_DATABASE_URL": app_role_url}
        settings = load_settings(environment | {"MAILROOM_IDLE_ENABLED": "false"})
        assert await create_user(settings, "acme", "alice@acme.test", PASSWORD, None) == 0
        async with AsyncTestClient(create_app(settings=settings)) as client:
            login = {"tenant": "acme", "email": "alice@acme.test", "password": PASSWORD}
            token = (await client.post("/api/auth/login", json=login)).json()["access_token"]
            session = {"Authorization": f"Bearer {token}"}
            made = await client.post("/api/keys", json={"name": "reader", "scopes": ["read"]}, headers=session)
            key = {"Authorization": f"Bearer {made.json()['key']}"}
            assert (await client.get("/api/accounts", headers=key)).status_code == 200  # its first use is recorded
            engine = await client.app.state.dishka_container.get(AsyncEngine)
            begun: list[object] = []
            event.listen(engine.sync_engine, "begin", begun.append)
            for credential in (session, key):
                begun.clear()
                listed = await client.get("/api/accounts", headers=credential)
                assert (listed.status_code, len(begun)) == (200, 1), credential is key
