"""Postgres row-level security, the second lock behind the repositories' tenant filters, tried by raw SQL through
the service's own connection (a role that is not the tables' owner, no superuser, no BYPASSRLS): with no tenant
set nothing is visible; scoped to one tenant, another's rows can be neither read nor written."""

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from uuid import UUID

import asyncpg
import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError

from adapters.persistence.database import create_engine, create_session_factory
from adapters.persistence.hand_on import TransactionHandOn
from adapters.persistence.models import MailAccountModel
from adapters.persistence.tenant_scope import RowLevelTenantScope
from adapters.persistence.unit_of_work import SqlUnitOfWork
from adapters.system_clock import SystemClock
from application.messages.search_index import CatchUpSearchIndex
from domain.changes import Change, ChangeType
from domain.ids import new_id
from domain.mailboxes import Mailbox, MailboxRole, SyncState
from domain.tenants import Tenant
from tests.integration.conftest import migrated_engine
from tests.integration.test_mail_store_contract import message
from tests.integration.test_persistence_contract import account, store, tenant

TABLES = (
    "users", "mail_accounts", "mailboxes", "messages", "account_syncs", "drafts", "audit_events",
    "message_word_pairs", "message_word_pairs_pending", "change_events", "change_counters", "webhooks",
    "webhook_deliveries", "webhook_attempts", "watch_leases",
)  # fmt: skip
scope = RowLevelTenantScope()
hand_on = TransactionHandOn()


@pytest.fixture
async def tenants(request: pytest.FixtureRequest, tmp_path: Path, app_role_url: str) -> AsyncIterator[list[Tenant]]:
    """Two tenants with an account each, stored by the tables' owner."""
    async with migrated_engine("postgres", request, tmp_path) as owner:
        factory = create_session_factory(owner)
        acme, globex = (
            await tenant(lambda: SqlUnitOfWork(factory)),
            await tenant(lambda: SqlUnitOfWork(factory), "globex"),
        )
        await store(lambda: SqlUnitOfWork(factory), account(acme), account(globex, email="eve@globex.test"))
        yield [acme, globex]


@pytest.fixture
async def service(app_role_url: str) -> AsyncIterator[SqlUnitOfWork]:
    engine = create_engine(app_role_url)
    async with engine.connect() as connection:
        role = (
            await connection.execute(text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"))
        ).one()
        owners = set(
            (
                await connection.execute(text("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'"))
            ).scalars()
        )
        me = (await connection.execute(text("SELECT current_user"))).scalar_one()
    assert tuple(role) == (False, False)
    assert me not in owners
    hand_on.watch(engine)
    yield SqlUnitOfWork(create_session_factory(engine), hand_on)
    await engine.dispose()


async def count(uow: SqlUnitOfWork, sql: str) -> int:
    async with uow:
        return int((await uow._session.execute(text(sql))).scalar_one())  # type: ignore[union-attr]


async def inbox(service: SqlUnitOfWork, owner: Tenant) -> Mailbox:
    """A new INBOX on the tenant's account, stored by the service role (run it scoped to that tenant)."""
    async with service as uow:
        [account_id] = (await uow._session.execute(text("SELECT id FROM mail_accounts"))).scalars()  # type: ignore[union-attr]
        box = Mailbox(new_id(), owner.id, account_id, "INBOX", "/", MailboxRole.INBOX, SyncState(7, 0, None))
        await uow.mailboxes.add(box)
        await uow.commit()
    return box


async def test_with_no_tenant_set_nothing_is_visible(tenants: list[Tenant], service: SqlUnitOfWork) -> None:
    for table in TABLES:
        assert await count(service, f"SELECT count(*) FROM {table}") == 0, table
    with scope.system():
        assert await count(service, "SELECT count(*) FROM mail_accounts") == 2


async def test_every_table_with_a_tenant_column_is_under_row_level_security(
    tenants: list[Tenant], service: SqlUnitOfWork
) -> None:
    """A new tenant-owned table that its migration forgot to put under the policy fails here."""
    async with service as uow:
        session = uow._session
        assert session is not None
        owned = set(
            (
                await session.execute(
                    text(
                        "SELECT table_name FROM information_schema.columns WHERE table_schema = 'public'"
                        " AND column_name = 'tenant_id'"
                    )
                )
            ).scalars()
        )
        guarded = set(
            (
                await session.execute(text("SELECT relname FROM pg_class WHERE relrowsecurity AND relforcerowsecurity"))
            ).scalars()
        )
    assert owned >= set(TABLES) - {"message_word_pairs", "message_word_pairs_pending"}
    assert owned - guarded == set()


async def test_one_tenants_events_are_invisible_to_another_even_by_raw_sql(
    tenants: list[Tenant], service: SqlUnitOfWork
) -> None:
    acme, globex = tenants
    with scope(acme.id):
        async with service as uow:
            uow.changes.record(Change(new_id(), ChangeType.MESSAGE_CREATED, acme.id, None, SystemClock().now(), {}))
            await uow.commit()
        async with service as uow:
            assert [e.sequence for e in await uow.changes.after(acme.id, 0, 10)] == [1]
    with scope(globex.id):
        assert await count(service, "SELECT count(*) FROM change_events") == 0
        assert await count(service, "SELECT count(*) FROM change_counters") == 0
        async with service as uow:
            assert await uow.changes.after(acme.id, 0, 10) == []
            uow.changes.record(Change(new_id(), ChangeType.MESSAGE_CREATED, acme.id, None, SystemClock().now(), {}))
            with pytest.raises(DBAPIError, match="row-level security"):
                await uow.commit()


async def test_one_tenant_cannot_read_or_write_anothers_rows_even_by_raw_sql(
    tenants: list[Tenant], service: SqlUnitOfWork
) -> None:
    acme, globex = tenants
    with scope(acme.id):
        assert await count(service, "SELECT count(*) FROM mail_accounts") == 1
        assert await count(service, f"SELECT count(*) FROM mail_accounts WHERE tenant_id = '{globex.id}'") == 0
        async with service as uow:
            session = uow._session
            assert session is not None
            changed = await session.execute(
                text(f"UPDATE mail_accounts SET name = 'taken' WHERE tenant_id = '{globex.id}'")
            )
            deleted = await session.execute(text(f"DELETE FROM users WHERE tenant_id = '{globex.id}'"))
            assert (changed.rowcount, deleted.rowcount) == (0, 0)  # type: ignore[attr-defined]
            await uow.commit()
        async with service as uow:
            with pytest.raises(DBAPIError, match="row-level security"):
                await uow._session.execute(  # type: ignore[union-attr]
                    text(f"UPDATE mail_accounts SET tenant_id = '{globex.id}' WHERE tenant_id = '{acme.id}'")
                )
    with scope(globex.id):
        assert await count(service, "SELECT count(*) FROM mail_accounts WHERE name = 'taken'") == 0
        assert await count(service, "SELECT count(*) FROM users") == 0  # the contract's tenants have no users


async def test_the_service_role_stores_a_sync_batch_whole_and_only_for_its_tenant(
    tenants: list[Tenant], service: SqlUnitOfWork
) -> None:
    """Postgres refuses COPY to this role, so batches go as one INSERT of arrays (adapters.persistence.bulk)."""
    acme, globex = tenants
    with scope(acme.id):
        box = await inbox(service, acme)
        batch = [
            message(box, 1),
            replace(message(box, 2, seen=True), html_body=None, date=None, text_body='it\'s "quoted"'),
        ]
        async with service as uow:
            await uow.message_store.add_many(batch)
            await uow.commit()
        async with service as uow:
            assert [await uow.messages.get(acme.id, m.id) for m in batch] == batch
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
                await uow.message_store.add_many([replace(message(box, 3), tenant_id=globex.id)])


async def test_the_service_role_queues_and_indexes_word_pairs_for_the_messages_tenant_only(
    tenants: list[Tenant], service: SqlUnitOfWork
) -> None:
    """The sync's insert queues each message for the scheduled word-pair job (a trigger running as this role),
    and what either table holds is visible to the message's tenant alone."""
    acme, globex = tenants
    with scope(acme.id):
        box = await inbox(service, acme)
        async with service as uow:
            await uow.message_store.add_many([message(box, 1), message(box, 2)])
            await uow.commit()
        assert await count(service, "SELECT count(*) FROM message_word_pairs_pending") == 2
    with scope.system():
        assert await CatchUpSearchIndex(service, SystemClock())() == 2
    with scope(acme.id):
        assert await count(service, "SELECT count(*) FROM message_word_pairs") == 2
        assert await count(service, "SELECT count(*) FROM message_word_pairs_pending") == 0
    with scope(globex.id):
        assert await count(service, "SELECT count(*) FROM message_word_pairs") == 0


ACCOUNTS = MailAccountModel.__table__


async def started(uow: SqlUnitOfWork) -> object:
    """When the unit of work's transaction began (the same for every statement of one transaction)."""
    return (await uow._session.execute(select(func.now()))).scalar_one()  # type: ignore[union-attr]


async def accounts_seen(uow: SqlUnitOfWork) -> set[UUID]:
    """Tenants of the accounts the transaction can see, by a SELECT the repositories could have made (only those
    may be handed on; raw SQL counts as a write)."""
    return set((await uow._session.execute(select(ACCOUNTS.c.tenant_id))).scalars())  # type: ignore[union-attr]


async def test_a_token_check_hands_its_transaction_on_scoped_to_the_callers_tenant_alone(
    tenants: list[Tenant], service: SqlUnitOfWork
) -> None:
    """As the API does: the token's user is read across tenants, and the handler's unit of work goes on in that
    transaction, seeing only its own tenant's rows."""
    acme, globex = tenants
    with scope.system(), hand_on():
        async with service as uow:
            assert await accounts_seen(uow) == {acme.id, globex.id}
            began = await started(uow)
    with scope(acme.id):
        async with service as uow:
            assert await started(uow) == began
            assert await accounts_seen(uow) == {acme.id}
        async with service as uow:
            assert await started(uow) != began


async def test_a_unit_of_work_that_wrote_is_rolled_back_not_handed_on(
    tenants: list[Tenant], service: SqlUnitOfWork
) -> None:
    acme, _ = tenants
    with scope(acme.id):
        with hand_on():
            async with service as uow:
                await uow._session.execute(update(ACCOUNTS).values(name="changed"))  # type: ignore[union-attr]
                began = await started(uow)
        async with service as uow:
            assert await started(uow) != began
            await uow.commit()
        assert await count(service, "SELECT count(*) FROM mail_accounts WHERE name = 'changed'") == 0


async def test_a_transaction_nobody_took_on_ends_with_close(tenants: list[Tenant], service: SqlUnitOfWork) -> None:
    pool = service._session_factory.kw["bind"].pool
    with scope.system(), hand_on():
        async with service as uow:
            await accounts_seen(uow)
    assert pool.checkedout() == 1
    await service.close()
    assert pool.checkedout() == 0
