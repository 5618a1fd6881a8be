"""The migrations build exactly the tables the models describe (on Postgres, where types compare exactly), and
move what a database already holds into them."""

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast
from uuid import UUID, uuid4

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Table, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

import adapters.persistence.access_models
import adapters.persistence.audit
import adapters.persistence.change_models
import adapters.persistence.draft_models
import adapters.persistence.mail_models  # noqa: F401  (both register their tables on the metadata)
from adapters.persistence.audit import AuditEventModel
from adapters.persistence.change_models import WebhookModel
from adapters.persistence.database import create_engine, create_session_factory
from adapters.persistence.migrations import upgrade
from adapters.persistence.models import MailAccountModel, TenantModel, UserModel
from adapters.persistence.tenant_scope import RowLevelTenantScope
from adapters.persistence.unit_of_work import SqlUnitOfWork
from domain.ids import new_id
from domain.pagination import PageRequest
from tests.conftest import require_service
from tests.integration.conftest import migrated_engine, run_sql

# Full-text search lives only in migrations 0005, 0009, 0012 and 0013 (generated tsvector columns, GIN, trigram and
# word-pair indexes, the word-pair tables), as SQL the models cannot describe; everything else must match.
SEARCH_ONLY = {
    ("remove_table", "message_word_pairs"),
    ("remove_table", "message_word_pairs_pending"),
    ("remove_index", "ix_message_word_pairs"),
    ("remove_index", "ix_message_word_pairs_pending_tenant"),
    ("remove_index", "ix_messages_from_trgm"),
    ("remove_index", "ix_messages_headline"),
    ("remove_index", "ix_messages_headline_pairs"),
    ("remove_index", "ix_messages_search"),
    ("remove_index", "ix_messages_subject_trgm"),
    ("remove_index", "ix_messages_to_trgm"),
    ("remove_column", "search_vector"),
    ("remove_column", "headline_vector"),
}


def _named(difference: Any) -> tuple[str, str]:
    kind = difference[0]
    return (kind, difference[3].name) if kind == "remove_column" else (kind, getattr(difference[1], "name", "?"))


async def test_migrated_postgres_matches_the_models(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    async with migrated_engine("postgres", request, tmp_path) as engine, engine.connect() as connection:
        differences = await connection.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), TenantModel.metadata)
        )
    assert [d for d in differences if not isinstance(d, tuple) or _named(d) not in SEARCH_ONLY] == []


@pytest.fixture(params=["sqlite", "postgres"])
async def at_0018(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """A database migrated to 0018; on Postgres a fresh one, migrated by an owner that is no superuser (as in
    production), so row-level security binds the migrations too."""
    if request.param == "sqlite":
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'mailroom.db'}")
        await upgrade(engine, "0018")
        yield engine
        await engine.dispose()
        return
    admin_url = require_service(
        "postgres", "MAILROOM_TEST_POSTGRES_URL", "e.g. postgresql://postgres@127.0.0.1:5432/postgres"
    )
    name = f"mailroom_migration_{uuid4().hex[:12]}"
    password = secrets.token_hex(16)
    run_sql(admin_url, f"CREATE ROLE \"{name}\" LOGIN PASSWORD '{password}' NOSUPERUSER NOBYPASSRLS")
    run_sql(admin_url, f'CREATE DATABASE "{name}" OWNER "{name}"')
    url = make_url(admin_url).set(drivername="postgresql+asyncpg", database=name, username=name, password=password)
    engine = create_engine(url.render_as_string(hide_password=False))
    try:
        await upgrade(engine, "0018")
        yield engine
    finally:
        await engine.dispose()
        run_sql(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        run_sql(admin_url, f'DROP ROLE IF EXISTS "{name}"')


T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
_USERS, _ACCOUNTS, _WEBHOOKS, _AUDIT = (
    cast("Table", model.__table__) for model in (UserModel, MailAccountModel, WebhookModel, AuditEventModel)
)


async def _insert_user(connection: AsyncConnection, tenant_id: UUID, name: str, role: str, minutes: int) -> UUID:
    user_id, at = new_id(), T0 + timedelta(minutes=minutes)
    values = {"email": f"{name}@example.com", "password_hash": "x", "role": role, "created_at": at, "updated_at": at}
    await connection.execute(_USERS.insert().values(id=user_id, tenant_id=tenant_id, **values))
    return user_id


async def _insert_account(connection: AsyncConnection, tenant_id: UUID, email: str) -> UUID:
    account_id = new_id()
    server = {"host": "mail.example.com", "port": 993, "security": "ssl", "username": email}
    secret = {"password_key_id": "k1", "password_ciphertext": b"x"}
    values = {f"{kind}_{k}": v for kind in ("imap", "smtp") for k, v in (server | secret).items()}
    await connection.execute(
        _ACCOUNTS.insert().values(id=account_id, tenant_id=tenant_id, name="Work", email=email, **values)
    )
    return account_id


async def _insert_webhook(connection: AsyncConnection, tenant_id: UUID, *audit: tuple[str, UUID]) -> UUID:
    """An endpoint, and audit events (action, actor) about it."""
    webhook_id = new_id()
    await connection.execute(
        _WEBHOOKS.insert().values(
            id=webhook_id,
            tenant_id=tenant_id,
            url="https://hooks.example.com/",
            event_types=[],
            account_ids=None,
            description="",
            secret_key_id="k1",
            secret_ciphertext=b"x",
            cursor=0,
            enabled=True,
        )
    )
    for minutes, (action, actor_id) in enumerate(audit):
        await connection.execute(
            _AUDIT.insert().values(
                id=new_id(),
                tenant_id=tenant_id,
                actor_id=actor_id,
                action=action,
                target=str(webhook_id),
                at=T0 + timedelta(minutes=minutes),
            )
        )
    return webhook_id


async def test_0019_gives_accounts_to_the_first_admin_and_webhooks_to_their_creator(at_0018: AsyncEngine) -> None:
    async with at_0018.begin() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execute(text("SELECT set_config('app.tenant_id', '*', true)"))
        tenants = cast("Table", TenantModel.__table__)
        acme, globex = new_id(), new_id()
        await connection.execute(tenants.insert(), [{"id": acme, "slug": "acme", "name": "Acme"}])
        await connection.execute(tenants.insert(), [{"id": globex, "slug": "globex", "name": "Globex"}])
        member = await _insert_user(connection, acme, "bob", "member", minutes=0)
        admin = await _insert_user(connection, acme, "ada", "admin", minutes=1)
        later_admin = await _insert_user(connection, acme, "zed", "admin", minutes=2)
        outsider = await _insert_user(connection, globex, "eve", "member", minutes=0)
        accounts = [await _insert_account(connection, acme, f"a{n}@example.com") for n in range(2)]
        ownerless = await _insert_account(connection, globex, "g@example.com")
        by_member = await _insert_webhook(
            connection, acme, ("webhook.created", member), ("webhook.updated", later_admin)
        )
        by_someone_gone = await _insert_webhook(connection, acme, ("webhook.created", new_id()))
        by_an_outsider = await _insert_webhook(connection, acme, ("webhook.created", outsider))
        unaudited = await _insert_webhook(connection, acme, ("webhook.updated", member))
        globex_hook = await _insert_webhook(connection, globex)
    await upgrade(at_0018)
    make_uow = SqlUnitOfWork(create_session_factory(at_0018))
    with RowLevelTenantScope().system():
        async with make_uow as uow:
            assert [(await uow.accounts.get(acme, a)).owner_id for a in accounts] == [admin, admin]  # type: ignore[union-attr]
            assert (await uow.accounts.get(globex, ownerless)).owner_id is None  # type: ignore[union-attr]
            kept = await uow.accounts.get(acme, accounts[0])
            assert kept is not None
            assert kept.imap_password is not None, "0020: an account from before signs in with its password"
            assert kept.oauth is None
            owners = {h.id: h.owner_id for h in await uow.webhooks.for_tenant(acme)}
            assert owners == {by_member: member, by_someone_gone: admin, by_an_outsider: admin, unaudited: admin}
            assert [h.owner_id for h in await uow.webhooks.for_tenant(globex)] == [None]
            assert [h.id for h in await uow.webhooks.for_tenant(globex)] == [globex_hook]
            assert not any(u.disabled for u in (await uow.users.list(acme, PageRequest())).items)
            assert await uow.users.count_admins(acme) == 2
