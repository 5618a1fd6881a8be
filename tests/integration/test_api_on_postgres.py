"""The production wiring (no fakes): Postgres, AES-GCM, scrypt and JWT, through HTTP."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text

from adapters.persistence.database import create_engine
from entrypoints.http.app import create_app
from entrypoints.operations import create_user
from entrypoints.settings import Settings, load_settings
from tests.conftest import mail_server_settings
from tests.e2e.conftest import PASSWORD, account_body
from tests.integration.conftest import migrated_engine


@pytest.fixture
def extra_settings(request: pytest.FixtureRequest) -> dict[str, str]:
    """Settings a test adds; "from-mail-fixture" stands for the test mail servers' CA file."""
    wanted: dict[str, str] = getattr(request, "param", {})
    if wanted.get("MAILROOM_MAIL_CA_FILE") == "from-mail-fixture":
        wanted = {**wanted, "MAILROOM_MAIL_CA_FILE": request.getfixturevalue("mail")["MAILROOM_TEST_MAIL_CA_FILE"]}
    return wanted


UNLIMITED = {"MAILROOM_RATE_LIMIT_PER_MINUTE": "1000000", "MAILROOM_RATE_LIMIT_PER_HOUR": "1000000"}


@pytest.fixture
async def settings(
    request: pytest.FixtureRequest, tmp_path: Path, extra_settings: dict[str, str], app_role_url: str
) -> AsyncIterator[Settings]:
    """Migrated by the tables' owner; the service connects as its own role, under row-level security. No rate
    limits: these tests poll the API while workers sync and send (at ten a second they once passed 60 a minute
    on a loaded CI machine); the limits have tests of their own. No inbox watches: a new account is watched at
    once, and the watch's own sync would race the ones these tests ask for and wait on (the watches have tests of
    their own)."""
    async with migrated_engine("postgres", request, tmp_path):
        environ = {
            "MAILROOM_DATA_DIR": str(tmp_path),
            "MAILROOM_DATABASE_URL": app_role_url,
            "MAILROOM_IDLE_ENABLED": "false",
            **UNLIMITED,
        }
        environ |= extra_settings
        yield load_settings(environ)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[AsyncTestClient[Litestar]]:
    for tenant, email in (("acme", "alice@acme.test"), ("globex", "eve@globex.test")):
        assert await create_user(settings, tenant, email, PASSWORD, None) == 0
    async with AsyncTestClient(create_app(settings=settings)) as client:
        yield client


async def bearer(client: AsyncTestClient[Litestar], tenant: str, email: str) -> dict[str, str]:
    answer = await client.post("/api/auth/login", json={"tenant": tenant, "email": email, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


async def test_accounts_round_trip_with_passwords_encrypted_at_rest(
    client: AsyncTestClient[Litestar], settings: Settings, postgres_url: str
) -> None:
    acme = await bearer(client, "acme", "alice@acme.test")
    created = await client.post("/api/accounts", json=account_body(), headers=acme)
    assert created.status_code == 201, created.text
    account_id = created.json()["id"]
    patched = await client.patch(f"/api/accounts/{account_id}", json={"name": "Renamed"}, headers=acme)
    assert patched.json()["name"] == "Renamed"
    assert (await client.get("/api/accounts", headers=acme)).json()["total"] == 1

    engine = create_engine(postgres_url)  # the tables' owner, a superuser: past row-level security
    async with engine.connect() as connection:
        row = (await connection.execute(text("SELECT * FROM mail_accounts"))).mappings().one()
        users = (await connection.execute(text("SELECT password_hash FROM users"))).scalars().all()
    await engine.dispose()
    assert b"imap-pw" not in row["imap_password_ciphertext"]
    assert row["imap_password_key_id"] == settings.keyring().current_key_id
    assert all(h.startswith("scrypt$") and PASSWORD not in h for h in users)


async def test_another_tenant_sees_nothing_on_postgres(client: AsyncTestClient[Litestar]) -> None:
    acme = await bearer(client, "acme", "alice@acme.test")
    globex = await bearer(client, "globex", "eve@globex.test")
    account = (await client.post("/api/accounts", json=account_body(), headers=acme)).json()
    path = f"/api/accounts/{account['id']}"
    for method, body in (("GET", None), ("PATCH", {"name": "x"}), ("PUT", account_body()), ("DELETE", None)):
        assert (await client.request(method, path, json=body, headers=globex)).status_code == 404
    assert (await client.get("/api/accounts", headers=globex)).json()["total"] == 0
    assert (await client.get(path, headers=acme)).json() == account


async def test_health_checks_the_real_database(client: AsyncTestClient[Litestar]) -> None:
    assert (await client.get("/health")).json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}


def real_mail_account(mail: dict[str, str], password: str) -> dict[str, object]:
    host, user = mail["MAILROOM_TEST_MAIL_HOST"], f"alice@{mail['MAILROOM_TEST_MAIL_DOMAIN']}"
    imap = {"host": host, "port": int(mail["MAILROOM_TEST_IMAP_PORT"]), "security": "starttls"}
    smtp = {"host": host, "port": int(mail["MAILROOM_TEST_SUBMISSION_PORT"]), "security": "starttls"}
    login = {"username": user, "password": password}
    return {"name": "Real", "email": user, "imap": imap | login, "smtp": smtp | login}


@pytest.fixture
def mail() -> dict[str, str]:
    return mail_server_settings()


@pytest.mark.parametrize("extra_settings", [{"MAILROOM_MAIL_CA_FILE": "from-mail-fixture"}], indirect=True)
async def test_verify_true_logs_in_to_the_real_servers(client: AsyncTestClient[Litestar], mail: dict[str, str]) -> None:
    acme = await bearer(client, "acme", "alice@acme.test")
    refused = await client.post(
        "/api/accounts", params={"verify": "true"}, json=real_mail_account(mail, "wrong"), headers=acme
    )
    assert refused.status_code == 422
    assert refused.json()["protocol"] == "imap"
    assert "AUTHENTICATIONFAILED" in refused.json()["detail"]
    assert (await client.get("/api/accounts", headers=acme)).json()["total"] == 0

    accepted = await client.post(
        "/api/accounts", params={"verify": "true"}, json=real_mail_account(mail, "alice-password-1"), headers=acme
    )
    assert accepted.status_code == 201, accepted.text
    account_id = accepted.json()["id"]
    smtp_refused = await client.patch(
        f"/api/accounts/{account_id}", params={"verify": "true"}, json={"smtp": {"password": "wrong"}}, headers=acme
    )
    assert (smtp_refused.status_code, smtp_refused.json()["protocol"]) == (422, "smtp")
