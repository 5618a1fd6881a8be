"""Row-level security keeps tenants apart only for a role that is neither superuser, BYPASSRLS nor the tables'
owner: in production `serve`, `worker`, `scheduler` (all through `check_before_start`) and `mailroom check` refuse
any other, saying how to fix it; `mailroom migrate`, given the owner's URL, creates and grants the service's role.
SQLite has no roles and is unaffected (tests/e2e/test_cli.py)."""

import asyncio
import secrets
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from uuid import uuid4

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from adapters.crypto.keyring import Keyring
from adapters.persistence.database import create_engine
from adapters.persistence.migrations import upgrade
from adapters.persistence.roles import grant_service_role, session_role
from domain.errors import DependencyUnavailable
from entrypoints import operations
from entrypoints.settings import load_settings
from tests.conftest import require_service
from tests.e2e.test_cli import MAILROOM, free_port, run, start_serve
from tests.integration.conftest import env_without_mailroom, run_sql

FIX = ("MAILROOM_DATABASE_URL", "MAILROOM_MIGRATION_DATABASE_URL")


@pytest.fixture(scope="module")
def production() -> dict[str, str]:
    return {
        "MAILROOM_ENV": "production",
        "MAILROOM_JWT_SECRET": secrets.token_urlsafe(48),
        "MAILROOM_ENCRYPTION_KEYS": Keyring.generate_entry("roles"),
    }


@pytest.fixture
def env(tmp_path: Path, production: dict[str, str]) -> dict[str, str]:
    return env_without_mailroom() | production | {"MAILROOM_DATA_DIR": str(tmp_path)}


@pytest.fixture(scope="module")
def superuser_url(postgres_url: str) -> str:
    """The session database, migrated, reached as the server's superuser (what compose used to give the service)."""

    async def migrate() -> None:
        engine = create_engine(postgres_url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    with ThreadPoolExecutor(max_workers=1) as pool:  # a fixture may be set up inside a running event loop
        pool.submit(asyncio.run, migrate()).result()
    return postgres_url


class OwnedDatabase:
    """A database whose tables belong to a login role that is no superuser (a managed Postgres's usual shape),
    migrated by `mailroom migrate` as that owner, which also creates the service's role."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.name = f"mailroom_roles_{uuid4().hex[:10]}"
        self.owner, self.service = f"{self.name}_owner", f"{self.name}_svc"
        self.owner_password, self.service_password = secrets.token_hex(12), secrets.token_hex(12)
        self.extra_roles: list[str] = []

    def url(self, role: str, password: str) -> str:
        url = make_url(self.admin_url).set(drivername="postgresql+asyncpg", database=self.name)
        return url.set(username=role, password=password).render_as_string(hide_password=False)

    @property
    def owner_url(self) -> str:
        return self.url(self.owner, self.owner_password)

    @property
    def service_url(self) -> str:
        return self.url(self.service, self.service_password)

    def login_role(self, suffix: str, attributes: str) -> str:
        """Another login role on the server, dropped with the database; its URL."""
        role, password = f"{self.name}_{suffix}", secrets.token_hex(12)
        run_sql(self.admin_url, f"CREATE ROLE \"{role}\" LOGIN PASSWORD '{password}' {attributes}")
        self.extra_roles.append(role)
        return self.url(role, password)

    def create(self) -> None:
        run_sql(
            self.admin_url,
            f"CREATE ROLE \"{self.owner}\" LOGIN PASSWORD '{self.owner_password}' NOSUPERUSER NOBYPASSRLS CREATEROLE",
        )
        run_sql(self.admin_url, f'CREATE DATABASE "{self.name}" OWNER "{self.owner}"')

    def drop(self) -> None:
        run_sql(self.admin_url, f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        for role in (self.service, *self.extra_roles, self.owner):
            run_sql(self.admin_url, f'DROP ROLE IF EXISTS "{role}"')


@contextmanager
def owned_database() -> Iterator[OwnedDatabase]:
    database = OwnedDatabase(
        require_service("postgres", "MAILROOM_TEST_POSTGRES_URL", "e.g. postgresql://postgres@127.0.0.1:5432/postgres")
    )
    database.create()
    try:
        yield database
    finally:
        database.drop()


@pytest.fixture(scope="module")
def owned(
    production: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[OwnedDatabase, subprocess.CompletedProcess[str]]]:
    """Migrated once for the module, as an operator does: the owner's URL for migrate, the service's for the rest."""
    env = env_without_mailroom() | production | {"MAILROOM_DATA_DIR": str(tmp_path_factory.mktemp("owned"))}
    with owned_database() as database:
        urls = {"MAILROOM_MIGRATION_DATABASE_URL": database.owner_url, "MAILROOM_DATABASE_URL": database.service_url}
        yield database, run(env | urls, "migrate")


@pytest.fixture
def fresh() -> Iterator[OwnedDatabase]:
    with owned_database() as database:
        yield database


def failed_line(output: str) -> str:
    [line] = [line for line in output.splitlines() if "failed" in line]
    return line


# `mailroom migrate` as the owner


def test_migrate_as_the_owner_creates_the_service_role_and_grants_it_the_rows(
    owned: tuple[OwnedDatabase, subprocess.CompletedProcess[str]], env: dict[str, str]
) -> None:
    database, migrated = owned
    assert migrated.returncode == 0, migrated.stderr
    assert f"role '{database.service}' may read and write the tables" in migrated.stdout
    assert database.owner_password not in migrated.stdout + migrated.stderr
    assert database.service_password not in migrated.stdout + migrated.stderr

    service = env | {"MAILROOM_DATABASE_URL": database.service_url}
    checked = run(service, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"role '{database.service}' under row-level security" in checked.stdout
    created = run(
        service,
        "users",
        "create",
        "--tenant",
        "acme",
        "--email",
        "a@acme.test",
        "--password-stdin",
        stdin="a-long-password\n",
    )
    assert created.returncode == 0, created.stderr  # rows written through the granted role, under the policies


async def test_the_service_role_may_change_rows_but_not_the_policies_nor_the_schema_revision(
    owned: tuple[OwnedDatabase, subprocess.CompletedProcess[str]],
) -> None:
    database, _ = owned
    engine = create_engine(database.service_url)
    try:
        for statement in (
            "ALTER TABLE messages NO FORCE ROW LEVEL SECURITY",
            "DROP POLICY tenant_isolation ON users",
            "UPDATE alembic_version SET version_num = '0001'",
            "TRUNCATE messages",
            "CREATE TABLE public.mine (id int)",
        ):
            with pytest.raises(DBAPIError, match=r"must be owner|permission denied"):
                async with engine.begin() as connection:
                    await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def test_tables_that_later_migrations_add_are_granted_too(fresh: OwnedDatabase) -> None:
    """Default privileges: migration 0012's word-pair tables, created after the grant, are the role's to use."""
    run_sql(
        fresh.admin_url,
        f"CREATE ROLE \"{fresh.service}\" LOGIN PASSWORD '{fresh.service_password}' NOSUPERUSER NOBYPASSRLS",
    )
    owner = create_engine(fresh.owner_url)
    service = create_engine(fresh.service_url)
    try:
        await upgrade(owner, "0011")
        assert await grant_service_role(owner, fresh.service_url) == fresh.service
        await upgrade(owner)
        async with service.begin() as connection:
            await connection.execute(text("SELECT set_config('app.tenant_id', '*', true)"))
            for table in ("message_word_pairs", "message_word_pairs_pending", "messages"):
                assert await connection.scalar(text(f"SELECT count(*) FROM {table}")) == 0
    finally:
        await owner.dispose()
        await service.dispose()


async def test_an_owner_that_may_not_create_roles_is_told_so_without_the_password(fresh: OwnedDatabase) -> None:
    run_sql(fresh.admin_url, f'ALTER ROLE "{fresh.owner}" NOCREATEROLE')
    owner = create_engine(fresh.owner_url)
    try:
        with pytest.raises(DependencyUnavailable) as refused:
            await grant_service_role(owner, fresh.service_url)
    finally:
        await owner.dispose()
    assert f"could not grant the tables to role '{fresh.service}'" in refused.value.message
    assert "permission denied to create role" in refused.value.message
    assert fresh.service_password not in refused.value.message


# the service's role, as `mailroom check` and every process's start see it


def test_check_in_production_refuses_a_superuser_and_says_how_to_fix_it(
    superuser_url: str, env: dict[str, str]
) -> None:
    checked = run(env | {"MAILROOM_DATABASE_URL": superuser_url}, "check")
    assert checked.returncode == 1
    line = failed_line(checked.stdout)
    assert line.startswith("database: failed (role 'postgres' is a superuser")
    assert "row-level security" in line
    assert all(setting in line for setting in FIX)
    assert "broker" not in checked.stdout


def test_check_in_production_refuses_the_tables_owner(
    owned: tuple[OwnedDatabase, subprocess.CompletedProcess[str]], env: dict[str, str]
) -> None:
    database, _ = owned
    checked = run(env | {"MAILROOM_DATABASE_URL": database.owner_url}, "check")
    assert checked.returncode == 1
    line = failed_line(checked.stdout)
    assert f"role '{database.owner}' owns the tables (" in line
    assert all(setting in line for setting in FIX)


def test_check_in_production_accepts_the_service_role(
    app_role_url: str, superuser_url: str, env: dict[str, str]
) -> None:
    checked = run(env | {"MAILROOM_DATABASE_URL": app_role_url}, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "under row-level security" in checked.stdout


def test_check_in_development_reports_a_superuser_without_refusing(superuser_url: str, tmp_path: Path) -> None:
    env = env_without_mailroom() | {"MAILROOM_DATA_DIR": str(tmp_path), "MAILROOM_DATABASE_URL": superuser_url}
    checked = run(env, "check")
    assert checked.returncode == 0, checked.stdout
    assert "role 'postgres' is a superuser: refused in production" in checked.stdout


async def test_roles_that_can_switch_the_policies_off_are_recognised(
    owned: tuple[OwnedDatabase, subprocess.CompletedProcess[str]],
) -> None:
    """BYPASSRLS alone is enough; so is membership in the owner's role (SET ROLE makes it the owner), and CREATEROLE,
    with which a role may make itself such a member."""
    database, _ = owned
    cases = {
        database.login_role("bypass", "NOSUPERUSER BYPASSRLS"): "has BYPASSRLS",
        database.login_role("creator", "NOSUPERUSER NOBYPASSRLS CREATEROLE"): "has CREATEROLE",
        database.login_role("member", f'NOSUPERUSER NOBYPASSRLS IN ROLE "{database.owner}"'): "owns the tables",
        database.service_url: "",
    }
    for url, why in cases.items():
        engine = create_engine(url)
        try:
            role = await session_role(engine)
        finally:
            await engine.dispose()
        assert role is not None
        assert role.bypasses_row_security is bool(why), role
        assert why in role.why


async def test_every_process_start_in_production_refuses_a_role_that_bypasses_the_policies(
    superuser_url: str,
    app_role_url: str,
    owned: tuple[OwnedDatabase, subprocess.CompletedProcess[str]],
    env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`check_before_start` is what `serve`, `worker` and `scheduler` run first."""
    database, _ = owned
    for url, refused in ((superuser_url, True), (database.owner_url, True), (app_role_url, False)):
        code = await operations.check_before_start(load_settings(env | {"MAILROOM_DATABASE_URL": url}))
        output = capsys.readouterr().out
        assert code == (1 if refused else 0), output
        assert all(setting in output for setting in FIX) is refused, output
    development = load_settings(env | {"MAILROOM_ENV": "development", "MAILROOM_DATABASE_URL": superuser_url})
    assert await operations.check_before_start(development) == 0


async def test_worker_and_scheduler_in_production_stop_before_taking_jobs_as_a_superuser(
    superuser_url: str, env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """They stop before they reach the broker (here an address where nothing listens)."""
    settings = load_settings(
        env | {"MAILROOM_DATABASE_URL": superuser_url, "MAILROOM_REDIS_URL": "redis://127.0.0.1:1/0"}
    )
    for start in (operations.run_worker, operations.run_scheduler):
        assert await asyncio.wait_for(start(settings), timeout=30) == 1
        assert "database: failed (role 'postgres' is a superuser" in capsys.readouterr().out


def test_serve_in_production_refuses_a_superuser_and_serves_as_the_service_role(
    superuser_url: str, app_role_url: str, env: dict[str, str]
) -> None:
    refused = subprocess.run(
        [MAILROOM, "serve"],
        env=env | {"MAILROOM_DATABASE_URL": superuser_url, "MAILROOM_PORT": str(free_port())},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 1
    assert "database: failed (role 'postgres' is a superuser" in refused.stdout
    process, base = start_serve(env | {"MAILROOM_DATABASE_URL": app_role_url})
    try:
        assert httpx.get(f"{base}/health", timeout=5).status_code == 200
    finally:
        process.terminate()
        process.communicate(timeout=20)
