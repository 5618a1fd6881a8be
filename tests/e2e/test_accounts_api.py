from pathlib import Path
from typing import Any

import pytest
from dishka import Provider, Scope, provide
from litestar import Litestar
from litestar.testing import AsyncTestClient

from adapters.memory.mail import ScriptedMailServers
from adapters.memory.store import MemoryStore
from application.accounts.read import ListMailAccounts
from application.users.register import NewUser, RegisterUser
from domain.accounts import MailAccount
from domain.auth import Principal
from domain.pagination import Page, PageRequest
from domain.ports.persistence import UnitOfWork
from entrypoints.http.app import create_app
from entrypoints.ioc import MemoryProvider
from entrypoints.settings import load_settings
from tests.e2e.conftest import PASSWORD, Login, account_body

PROBLEM = "application/problem+json"


async def stored_accounts(app: Litestar) -> int:
    return len((await app.state.dishka_container.get(MemoryStore)).accounts)


async def test_create_read_list_and_delete(client: AsyncTestClient[Litestar], login: Login) -> None:
    auth = await login()
    created = await client.post("/api/accounts", json=account_body(), headers=auth)
    assert created.status_code == 201
    account = created.json()
    assert set(account) == {
        "id",
        "name",
        "email",
        "imap",
        "smtp",
        "sync_interval_seconds",
        "server_saves_sent",
        "aliases",
        "owner_id",
        "created_at",
        "updated_at",
        "oauth",
    }
    me = (await client.get("/api/me", headers=auth)).json()
    assert account["owner_id"] == me["user_id"]
    assert account["server_saves_sent"] is False
    assert account["aliases"] == []
    assert account["sync_interval_seconds"] == 300
    assert account["imap"] == {
        "host": "imap.example.com",
        "port": 993,
        "security": "ssl",
        "username": "alice",
        "auth": "password",
    }
    assert account["oauth"] is None

    assert (await client.get(f"/api/accounts/{account['id']}", headers=auth)).json() == account
    listing = (await client.get("/api/accounts", headers=auth)).json()
    assert listing == {"items": [account], "total": 1}

    assert (await client.delete(f"/api/accounts/{account['id']}", headers=auth)).status_code == 204
    gone = await client.get(f"/api/accounts/{account['id']}", headers=auth)
    assert (gone.status_code, gone.headers["content-type"]) == (404, PROBLEM)


async def test_passwords_are_never_returned(client: AsyncTestClient[Litestar], login: Login) -> None:
    auth = await login()
    created = await client.post("/api/accounts", json=account_body(), headers=auth)
    listing = await client.get("/api/accounts", headers=auth)
    for text in (created.text, listing.text):
        assert "imap-pw" not in text
        assert "smtp-pw" not in text
    for account in (created.json(), *listing.json()["items"]):
        for server in (account["imap"], account["smtp"]):
            assert "password" not in server, "only how it signs in: `auth`"
            assert server["auth"] == "password"


async def test_pages_with_limit_and_offset(client: AsyncTestClient[Litestar], login: Login) -> None:
    auth = await login()
    for n in range(3):
        await client.post("/api/accounts", json=account_body(f"u{n}@example.com"), headers=auth)
    page = (await client.get("/api/accounts", params={"limit": 2, "offset": 1}, headers=auth)).json()
    assert page["total"] == 3
    assert [a["email"] for a in page["items"]] == ["u1@example.com", "u2@example.com"]
    for bad in ({"limit": 0}, {"limit": 201}, {"offset": -1}, {"limit": "ten"}):
        answer = await client.get("/api/accounts", params=bad, headers=auth)
        assert (answer.status_code, answer.headers["content-type"]) == (422, PROBLEM), bad


async def test_put_replaces_and_keeps_omitted_passwords(
    app: Litestar, client: AsyncTestClient[Litestar], login: Login
) -> None:
    auth = await login()
    account = (await client.post("/api/accounts", json=account_body(), headers=auth)).json()
    replacement = account_body("alice@new.example.com", name="Renamed")
    del replacement["imap"]["password"], replacement["smtp"]["password"]
    replacement["smtp"] |= {"port": 587, "security": "starttls", "password": "smtp-pw-again"}
    answer = await client.put(f"/api/accounts/{account['id']}", json=replacement, headers=auth)
    assert answer.status_code == 200
    body = answer.json()
    assert (body["name"], body["email"], body["smtp"]["port"], body["smtp"]["security"]) == (
        "Renamed",
        "alice@new.example.com",
        587,
        "starttls",
    )
    assert body["created_at"] == account["created_at"]
    store = await app.state.dishka_container.get(MemoryStore)
    assert store.accounts[store_id(account)].imap_password.ciphertext  # still there
    incomplete = {k: v for k, v in replacement.items() if k != "imap"}
    assert (await client.put(f"/api/accounts/{account['id']}", json=incomplete, headers=auth)).status_code == 422


def store_id(account: dict[str, Any]) -> Any:
    from uuid import UUID

    return UUID(account["id"])


async def test_patch_changes_only_what_it_names(client: AsyncTestClient[Litestar], login: Login) -> None:
    auth = await login()
    account = (await client.post("/api/accounts", json=account_body(), headers=auth)).json()
    change = {"imap": {"port": 143, "password": "imap-pw"}, "sync_interval_seconds": 900}
    answer = await client.patch(f"/api/accounts/{account['id']}", json=change, headers=auth)
    body = answer.json()
    assert answer.status_code == 200
    assert body["imap"] == {**account["imap"], "port": 143}
    assert body["sync_interval_seconds"] == 900
    assert (body["name"], body["smtp"]) == (account["name"], account["smtp"])


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"imap": {"port": 0}}, "imap.port"),
        ({"imap": {"port": 65536}}, "imap.port"),
        ({"smtp": {"host": "smtp.example.com\r\nBcc: x"}}, "smtp.host"),
        ({"imap": {"username": "al\x00ice"}}, "imap.username"),
        ({"imap": {"security": "tls13"}}, "imap.security"),
        ({"email": "not-an-address"}, "email"),
        ({"name": ""}, "name"),
        ({"name": None}, "name"),
        ({"sync_interval_seconds": 59}, "sync_interval_seconds"),
        ({"sync_interval_seconds": 86401}, "sync_interval_seconds"),
        ({"id": "00000000-0000-0000-0000-000000000000"}, "id"),
        ({"created_at": "2020-01-01T00:00:00Z"}, "created_at"),
        ({"tenant": "globex"}, "tenant"),
    ],
)
async def test_bad_input_is_a_422_naming_the_field_and_changes_nothing(
    app: Litestar, client: AsyncTestClient[Litestar], login: Login, change: dict[str, Any], field: str
) -> None:
    auth = await login()
    account = (await client.post("/api/accounts", json=account_body(), headers=auth)).json()
    patched = await client.patch(f"/api/accounts/{account['id']}", json=change, headers=auth)
    body = account_body()
    for key, value in change.items():
        body[key] = {**body[key], **value} if isinstance(value, dict) else value
    created = await client.post(
        "/api/accounts", json=body | {"email": "other@example.com"} if "email" not in change else body, headers=auth
    )
    for answer in (patched, created):
        assert (answer.status_code, answer.headers["content-type"]) == (422, PROBLEM), answer.text
        assert field in [e["field"] for e in answer.json()["errors"]]
    assert (await client.get(f"/api/accounts/{account['id']}", headers=auth)).json() == account
    assert await stored_accounts(app) == 1


async def test_malformed_json_is_a_problem_not_a_crash(client: AsyncTestClient[Litestar], login: Login) -> None:
    auth = await login()
    answer = await client.post(
        "/api/accounts", content=b'{"name": "Work",', headers={**auth, "content-type": "application/json"}
    )
    assert answer.headers["content-type"] == PROBLEM
    assert 400 <= answer.status_code < 500


async def test_a_duplicate_email_is_a_409(client: AsyncTestClient[Litestar], login: Login) -> None:
    auth = await login()
    await client.post("/api/accounts", json=account_body(), headers=auth)
    answer = await client.post("/api/accounts", json=account_body("Alice@Example.com"), headers=auth)
    assert (answer.status_code, answer.json()["type"]) == (409, "urn:mailroom:problem:conflict")


async def test_verify_true_reports_the_servers_refusal_and_saves_nothing(
    app: Litestar, client: AsyncTestClient[Litestar], login: Login
) -> None:
    auth = await login()
    answer = await client.post("/api/accounts", params={"verify": "true"}, json=account_body(), headers=auth)
    assert answer.status_code == 422
    problem = answer.json()
    assert problem["type"] == "urn:mailroom:problem:mail-server-rejected"
    assert (problem["protocol"], problem["detail"]) == ("imap", "imap: authentication failed")
    assert await stored_accounts(app) == 0


async def test_verify_true_saves_when_both_servers_accept(
    app: Litestar, client: AsyncTestClient[Litestar], login: Login
) -> None:
    servers = await app.state.dishka_container.get(ScriptedMailServers)
    servers.accept("imap.example.com", "alice", "imap-pw")
    servers.accept("smtp.example.com", "alice", "smtp-pw")
    auth = await login()
    answer = await client.post("/api/accounts", params={"verify": "true"}, json=account_body(), headers=auth)
    assert answer.status_code == 201
    assert [attempt[0] for attempt in servers.attempts] == ["imap", "smtp"]


async def test_unknown_paths_and_methods_are_problems(client: AsyncTestClient[Litestar], login: Login) -> None:
    auth = await login()
    for method, path, status in [
        ("GET", "/api/accounts/not-a-uuid", 404),
        ("GET", "/nowhere", 404),
        ("POST", "/health", 405),
    ]:
        answer = await client.request(method, path, headers=auth)
        assert (answer.status_code, answer.headers["content-type"]) == (status, PROBLEM), path


class FailingListMailAccounts(ListMailAccounts):
    async def __call__(self, principal: Principal, page: PageRequest) -> Page[MailAccount]:
        raise RuntimeError("lost postgres://mailroom:db-secret@db")


class FailingListProvider(Provider):
    @provide(scope=Scope.REQUEST, override=True)
    def list_accounts(self, uow: UnitOfWork) -> ListMailAccounts:
        return FailingListMailAccounts(uow)


async def test_an_unexpected_failure_is_a_500_problem_that_hides_the_cause(tmp_path: Path) -> None:
    settings = load_settings({"MAILROOM_DATA_DIR": str(tmp_path)})
    app = create_app(MemoryProvider(), FailingListProvider(), settings=settings)
    async with AsyncTestClient(app) as client:
        answer = await client.get("/api/accounts", headers=await _login_to(app, client))
    assert (answer.status_code, answer.headers["content-type"]) == (500, PROBLEM)
    assert answer.json()["type"] == "urn:mailroom:problem:internal-error"
    assert "db-secret" not in answer.text


async def _login_to(app: Litestar, client: AsyncTestClient[Litestar]) -> dict[str, str]:
    async with app.state.dishka_container() as container:
        await (await container.get(RegisterUser))(NewUser("acme", "a@acme.test", PASSWORD))
    login = {"tenant": "acme", "email": "a@acme.test", "password": PASSWORD}
    token = (await client.post("/api/auth/login", json=login)).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


async def test_security_none_is_a_422_where_plaintext_mail_is_not_allowed(tmp_path: Path) -> None:
    settings = load_settings({"MAILROOM_DATA_DIR": str(tmp_path), "MAILROOM_ALLOW_PLAINTEXT_MAIL": "false"})
    app = create_app(MemoryProvider(), settings=settings)
    async with AsyncTestClient(app) as client:
        auth = await _login_to(app, client)
        body = account_body()
        body["imap"] |= {"security": "none", "port": 143}
        answer = await client.post("/api/accounts", json=body, headers=auth)
        assert (answer.status_code, answer.headers["content-type"]) == (422, PROBLEM), answer.text
        assert [e["field"] for e in answer.json()["errors"]] == ["imap.security"]
        assert (await client.get("/api/accounts", headers=auth)).json()["total"] == 0
