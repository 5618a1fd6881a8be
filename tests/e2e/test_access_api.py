"""Access over HTTP: sessions (refresh, rotation, reuse, logout, password change), users administration, API keys
and their scopes, account grants and ownership, and events that follow what a member reaches."""

from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from adapters.memory.imap import FakeImapServer
from adapters.memory.webhooks import ScriptedWebhookTransport
from application.users.register import NewUser, RegisterUser
from entrypoints.http.app import create_app
from entrypoints.ioc import MemoryProvider
from entrypoints.settings import load_settings
from tests.e2e.conftest import PASSWORD, Login, account_body
from tests.e2e.test_events_api import eventually
from tests.e2e.test_sync_api import wait_for_idle
from tests.unit import mail_corpus

PROBLEM = "application/problem+json"
HOOK = "https://hooks.example.com/bob"


async def sign_in(
    client: AsyncTestClient[Litestar], email: str = "alice@acme.test", password: str = PASSWORD
) -> dict[str, Any]:
    answer = await client.post("/api/auth/login", json={"tenant": "acme", "email": email, "password": password})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def works(client: AsyncTestClient[Litestar], token: str) -> bool:
    return (await client.get("/api/me", headers=bearer(token))).status_code == 200


async def refresh(client: AsyncTestClient[Litestar], refresh_token: str) -> Any:
    return await client.post("/api/auth/refresh", json={"refresh_token": refresh_token})


async def test_a_refresh_token_is_good_once_and_its_reuse_ends_the_session(
    client: AsyncTestClient[Litestar], login: Login
) -> None:
    await login()
    first = await sign_in(client)
    renewed = await refresh(client, first["refresh_token"])
    assert renewed.status_code == 200, renewed.text
    second = renewed.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert await works(client, second["access_token"])

    stolen = await refresh(client, first["refresh_token"])  # the first one again: copied by someone
    assert stolen.status_code == 401
    assert stolen.headers["content-type"] == PROBLEM
    assert not await works(client, second["access_token"]), "the whole session ended"
    assert (await refresh(client, second["refresh_token"])).status_code == 401
    other = await sign_in(client)
    assert await works(client, other["access_token"]), "a new login is a new session"
    assert (await refresh(client, "mrr_made-up")).status_code == 401


async def test_logout_ends_this_session_or_every_session(client: AsyncTestClient[Litestar], login: Login) -> None:
    await login()
    phone, laptop, tablet = await sign_in(client), await sign_in(client), await sign_in(client)
    assert (await client.post("/api/auth/logout", headers=bearer(phone["access_token"]))).status_code == 204
    assert not await works(client, phone["access_token"])
    assert (await refresh(client, phone["refresh_token"])).status_code == 401
    assert await works(client, laptop["access_token"])

    everywhere = await client.post(
        "/api/auth/logout", json={"everywhere": True}, headers=bearer(laptop["access_token"])
    )
    assert everywhere.status_code == 204
    for session in (laptop, tablet):
        assert not await works(client, session["access_token"])
        assert (await refresh(client, session["refresh_token"])).status_code == 401


async def test_a_password_change_checks_the_old_one_refuses_common_ones_and_ends_other_sessions(
    client: AsyncTestClient[Litestar], login: Login
) -> None:
    await login()
    here, elsewhere = await sign_in(client), await sign_in(client)
    change = "/api/auth/password"
    for current, new, field in [
        ("wrong-password", "a-much-better-one-1", "current_password"),
        (PASSWORD, "qwertyuiop", "new_password"),
        (PASSWORD, "Password123", "new_password"),
        (PASSWORD, "short", "new_password"),
        (PASSWORD, "alice@acme.test", "new_password"),
    ]:
        refused = await client.post(
            change, json={"current_password": current, "new_password": new}, headers=bearer(here["access_token"])
        )
        assert refused.status_code == 422, (new, refused.text)
        assert refused.json()["errors"][0]["field"] == field
    assert await works(client, here["access_token"]), "a refused change ends nothing"

    changed = await client.post(
        change,
        json={"current_password": PASSWORD, "new_password": "a-much-better-one-1"},
        headers=bearer(here["access_token"]),
    )
    assert changed.status_code == 200, changed.text
    for session in (here, elsewhere):
        assert not await works(client, session["access_token"])
        assert (await refresh(client, session["refresh_token"])).status_code == 401
    assert await works(client, changed.json()["access_token"])
    old = await client.post(
        "/api/auth/login", json={"tenant": "acme", "email": "alice@acme.test", "password": PASSWORD}
    )
    assert old.status_code == 401
    await sign_in(client, password="a-much-better-one-1")


async def test_admins_manage_users_and_a_tenant_keeps_an_admin(client: AsyncTestClient[Litestar], login: Login) -> None:
    admin = await login()
    alice_id = (await client.get("/api/me", headers=admin)).json()["user_id"]
    made = await client.post(
        "/api/users", json={"email": "Bob@Acme.test", "password": "bobs-own-password"}, headers=admin
    )
    assert made.status_code == 201, made.text
    bob = made.json()
    assert (bob["email"], bob["role"], bob["disabled"]) == ("bob@acme.test", "member", False)
    assert made.headers["location"] == f"/api/users/{bob['id']}"
    assert "password" not in made.text
    again = await client.post(
        "/api/users", json={"email": "bob@acme.test", "password": "another-good-one"}, headers=admin
    )
    assert again.status_code == 409
    weak = await client.post("/api/users", json={"email": "carol@acme.test", "password": "1234567890"}, headers=admin)
    assert weak.status_code == 422

    bob_auth = bearer((await sign_in(client, "bob@acme.test", "bobs-own-password"))["access_token"])
    for method, path in [("GET", "/api/users"), ("POST", "/api/users"), ("PATCH", f"/api/users/{alice_id}")]:
        body = {"email": "x@acme.test", "password": "p" * 12} if method == "POST" else {"role": "member"}
        answer = await client.request(method, path, json=body if method != "GET" else None, headers=bob_auth)
        assert answer.status_code == 403, (method, path, answer.text)
    listed = (await client.get("/api/users", headers=admin)).json()
    assert [u["email"] for u in listed["items"]] == ["alice@acme.test", "bob@acme.test"]

    for change in ({"role": "member"}, {"disabled": True}):
        last = await client.patch(f"/api/users/{alice_id}", json=change, headers=admin)
        assert last.status_code == 409, (change, last.text)
    assert (await client.delete(f"/api/users/{alice_id}", headers=admin)).status_code == 409
    promoted = await client.patch(f"/api/users/{bob['id']}", json={"role": "admin"}, headers=admin)
    assert promoted.json()["role"] == "admin"
    assert not await works(client, bob_auth["Authorization"].removeprefix("Bearer ")), "a role change ends sessions"
    demoted = await client.patch(f"/api/users/{alice_id}", json={"role": "member"}, headers=admin)
    assert demoted.status_code == 200, "another admin remains"
    assert (await client.get("/api/users", headers=admin)).status_code == 401
    audit_by = bearer((await sign_in(client, "bob@acme.test", "bobs-own-password"))["access_token"])
    actions = [e["action"] for e in (await client.get("/api/audit", headers=audit_by)).json()["items"]]
    assert actions.count("user.updated") == 2
    assert "user.created" in actions


async def test_a_deleted_users_accounts_go_to_the_admin_or_the_named_owner(
    client: AsyncTestClient[Litestar], login: Login
) -> None:
    admin = await login()
    bob, carol = await login(email="bob@acme.test"), await login(email="carol@acme.test")
    ids = {who: (await client.get("/api/me", headers=auth)).json()["user_id"] for who, auth in
           [("alice", admin), ("bob", bob), ("carol", carol)]}  # fmt: skip
    bobs = (await client.post("/api/accounts", json=account_body("bob@example.com"), headers=bob)).json()
    carols = (await client.post("/api/accounts", json=account_body("carol@example.com"), headers=carol)).json()
    await client.post("/api/webhooks", json={"url": HOOK, "events": ["*"]}, headers=bob)
    await client.post("/api/keys", json={"name": "bob's", "scopes": ["read"]}, headers=bob)

    assert (await client.delete(f"/api/users/{ids['bob']}", headers=admin)).status_code == 204
    assert (await client.get(f"/api/accounts/{bobs['id']}", headers=admin)).json()["owner_id"] == ids["alice"]
    assert (await client.get("/api/webhooks", headers=admin)).json()["items"] == [], "their endpoints go with them"
    assert (await client.get("/api/keys", headers=admin)).json()["items"] == []
    assert (await client.get("/api/me", headers=bob)).status_code == 401

    gone = await client.delete(f"/api/users/{ids['carol']}", params={"new_owner_id": ids["carol"]}, headers=admin)
    assert gone.status_code == 422
    to_the_deleted = await client.delete(
        f"/api/users/{ids['carol']}", params={"new_owner_id": ids["bob"]}, headers=admin
    )
    assert to_the_deleted.status_code == 422
    dave = await client.post(
        "/api/users", json={"email": "dave@acme.test", "password": "daves-password"}, headers=admin
    )
    dave = dave.json()
    moved = await client.delete(f"/api/users/{ids['carol']}", params={"new_owner_id": dave["id"]}, headers=admin)
    assert moved.status_code == 204
    assert (await client.get(f"/api/accounts/{carols['id']}", headers=admin)).json()["owner_id"] == dave["id"]


async def test_an_api_key_acts_as_its_user_within_its_scopes(
    app: Litestar, client: AsyncTestClient[Litestar], login: Login
) -> None:
    admin = await login()
    bob = await login(email="bob@acme.test")
    account = (await client.post("/api/accounts", json=account_body("bob@example.com"), headers=bob)).json()
    await client.post("/api/accounts", json=account_body("alice@example.com"), headers=admin)
    made = await client.post(
        "/api/keys", json={"name": "archiver", "scopes": ["read"], "expires_at": "2099-01-01T00:00:00Z"}, headers=bob
    )
    assert made.status_code == 201, made.text
    key = made.json()
    assert key["key"].startswith("mr_")
    assert len(key["key"]) >= 3 + 43, "32 random bytes or more"
    assert (key["hint"], key["scopes"]) == (key["key"][:7], ["read"])
    assert made.headers["location"] == f"/api/keys/{key['id']}"
    as_key = bearer(key["key"])

    me = (await client.get("/api/me", headers=as_key)).json()
    assert (me["credential"], me["scopes"], me["role"]) == ("api_key", ["read"], "member")
    listed = (await client.get("/api/accounts", headers=as_key)).json()
    assert [a["id"] for a in listed["items"]] == [account["id"]], "as its user: bob's accounts only"
    denied = await client.patch(f"/api/accounts/{account['id']}", json={"name": "x"}, headers=as_key)
    assert (denied.status_code, denied.headers["content-type"]) == (403, PROBLEM)
    assert (denied.json()["scope"], denied.json()["type"]) == ("write", "urn:mailroom:problem:missing-scope")
    assert "`write`" in denied.json()["detail"]
    assert (await client.post("/api/keys", json={"name": "more", "scopes": ["read"]}, headers=as_key)).json()[
        "scope"
    ] == "admin"
    assert (await client.post("/api/auth/logout", headers=as_key)).status_code == 403

    writer = (await client.post("/api/keys", json={"name": "w", "scopes": ["read", "write"]}, headers=bob)).json()
    draft = await client.post(
        "/api/compose", json={"account_id": account["id"], "to": ["x@example.org"]}, headers=bearer(writer["key"])
    )
    assert draft.status_code == 201, draft.text
    send = await client.post(f"/api/compose/{draft.json()['id']}/send", headers=bearer(writer["key"]))
    assert (send.status_code, send.json()["scope"]) == (403, "send")
    no_admin = await client.post("/api/keys", json={"name": "a", "scopes": ["admin"]}, headers=bob)
    assert no_admin.status_code == 422

    shown = (await client.get("/api/keys", headers=bob)).json()["items"]
    assert {k["name"] for k in shown} == {"archiver", "w"}
    assert all("key" not in k for k in shown)
    assert key["key"] not in str(shown)
    assert len((await client.get("/api/keys", headers=admin)).json()["items"]) == 2, "an admin sees the tenant's"
    assert (await client.get("/api/keys", headers=as_key)).json()["items"][0]["last_used_at"] is not None

    assert (await client.delete(f"/api/keys/{key['id']}", headers=bob)).status_code == 204
    assert (await client.get("/api/me", headers=as_key)).status_code == 401
    bob_id = (await client.get("/api/me", headers=bob)).json()["user_id"]
    await client.patch(f"/api/users/{bob_id}", json={"disabled": True}, headers=admin)
    assert (await client.get("/api/me", headers=bearer(writer["key"]))).status_code == 401, "a disabled user's keys"
    await client.patch(f"/api/users/{bob_id}", json={"disabled": False}, headers=admin)
    assert (await client.get("/api/me", headers=bearer(writer["key"]))).status_code == 200
    assert (await client.get("/api/me", headers=bearer("mr_" + "A" * 43))).status_code == 401


async def test_an_expired_key_is_refused(client: AsyncTestClient[Litestar], login: Login) -> None:
    auth = await login()
    past = await client.post(
        "/api/keys", json={"name": "old", "scopes": ["read"], "expires_at": "2001-01-01T00:00:00Z"}, headers=auth
    )
    assert past.status_code == 422


@pytest.fixture
def tight_app(tmp_path: Path) -> Litestar:
    settings = load_settings(
        {"MAILROOM_DATA_DIR": str(tmp_path), "MAILROOM_IDLE_ENABLED": "false", "MAILROOM_RATE_LIMIT_PER_MINUTE": "3"}
    )
    return create_app(MemoryProvider(), settings=settings)


async def test_each_key_has_its_own_rate_limit(tight_app: Litestar) -> None:
    async with AsyncTestClient(tight_app) as client:

        async def register() -> None:
            async with tight_app.state.dishka_container() as container:
                await (await container.get(RegisterUser))(NewUser("acme", "alice@acme.test", PASSWORD))

        client.blocking_portal.call(register)  # in the app's loop, as the login fixture does
        session = bearer((await sign_in(client))["access_token"])
        keys = [
            (await client.post("/api/keys", json={"name": f"k{n}", "scopes": ["read"]}, headers=session)).json()["key"]
            for n in range(2)
        ]
        answers = [(await client.get("/api/accounts", headers=bearer(keys[0]))).status_code for _ in range(4)]
        assert answers == [200, 200, 200, 429]
        assert (await client.get("/api/accounts", headers=bearer(keys[1]))).status_code == 200, "a budget per key"


async def test_grants_share_an_account_and_only_its_owner_or_an_admin_manage_them(
    client: AsyncTestClient[Litestar], login: Login
) -> None:
    admin = await login()
    bob, carol = await login(email="bob@acme.test"), await login(email="carol@acme.test")
    bob_id = (await client.get("/api/me", headers=bob)).json()["user_id"]
    carol_id = (await client.get("/api/me", headers=carol)).json()["user_id"]
    support = (await client.post("/api/accounts", json=account_body("support@example.com"), headers=bob)).json()
    grants = f"/api/accounts/{support['id']}/grants"

    assert (await client.get(f"/api/accounts/{support['id']}", headers=carol)).status_code == 404
    assert (await client.put(f"{grants}/{carol_id}", json={"access": "read"}, headers=carol)).status_code == 404
    granted = await client.put(f"{grants}/{carol_id}", json={"access": "read"}, headers=bob)
    assert (granted.status_code, granted.json()["access"], granted.json()["granted_by"]) == (200, "read", bob_id)
    assert (await client.get(f"/api/accounts/{support['id']}", headers=carol)).status_code == 200
    assert (await client.put(f"{grants}/{carol_id}", json={"access": "full"}, headers=carol)).status_code == 403
    assert (await client.put(f"{grants}/{bob_id}", json={"access": "read"}, headers=bob)).status_code == 422
    assert (await client.put(f"{grants}/{carol_id}", json={"access": "all"}, headers=bob)).status_code == 422
    assert (await client.put(f"{grants}/{carol_id}", json={"access": "full"}, headers=admin)).status_code == 200
    listed = (await client.get(grants, headers=bob)).json()["items"]
    assert [(g["user_id"], g["access"]) for g in listed] == [(carol_id, "full")]

    assert (await client.delete(f"{grants}/{carol_id}", headers=bob)).status_code == 204
    assert (await client.get(f"/api/accounts/{support['id']}", headers=carol)).status_code == 404
    assert (await client.delete(f"{grants}/{carol_id}", headers=bob)).status_code == 404

    given = await client.patch(f"/api/accounts/{support['id']}", json={"owner_id": carol_id}, headers=bob)
    assert given.status_code == 403, "only an admin moves ownership"
    moved = await client.patch(f"/api/accounts/{support['id']}", json={"owner_id": carol_id}, headers=admin)
    assert moved.json()["owner_id"] == carol_id
    assert (await client.get(f"/api/accounts/{support['id']}", headers=carol)).status_code == 200
    assert (await client.get(f"/api/accounts/{support['id']}", headers=bob)).status_code == 404
    elsewhere = await client.patch(
        f"/api/accounts/{support['id']}", json={"owner_id": "00000000-0000-7000-8000-000000000000"}, headers=admin
    )
    assert elsewhere.status_code == 422
    actions = {e["action"] for e in (await client.get("/api/audit", headers=admin)).json()["items"]}
    assert {"grant.changed", "grant.deleted", "account.owner_changed"} <= actions


async def test_a_members_feed_and_webhooks_carry_only_the_accounts_they_reach(
    app: Litestar, client: AsyncTestClient[Litestar], login: Login
) -> None:
    admin = await login()
    bob = await login(email="bob@acme.test")
    server = await app.state.dishka_container.get(FakeImapServer)
    receivers = await app.state.dishka_container.get(ScriptedWebhookTransport)
    start = (await client.get("/api/changes", headers=bob)).json()["next_cursor"]
    hook = await client.post("/api/webhooks", json={"url": HOOK, "events": ["*"]}, headers=bob)
    assert hook.status_code == 201
    alices = (await client.post("/api/accounts", json=account_body("alice@example.com"), headers=admin)).json()
    refused = await client.post(
        "/api/webhooks", json={"url": HOOK, "events": ["*"], "account_ids": [alices["id"]]}, headers=bob
    )
    assert refused.status_code == 422, "an endpoint cannot ask for another member's account"
    other = await client.get("/api/changes", params={"since": start, "account_id": alices["id"]}, headers=bob)
    assert other.status_code == 404
    bobs = (await client.post("/api/accounts", json=account_body("bob@example.com"), headers=bob)).json()
    server.deliver("INBOX", mail_corpus.plain(Subject=b"hi"))
    for account, auth in ((alices, admin), (bobs, bob)):
        await client.post(f"/api/sync/imap/{account['id']}", headers=auth)
        await wait_for_idle(client, account["id"], auth)

    seen = (await client.get("/api/changes", params={"since": start}, headers=bob)).json()["items"]
    assert {e["account_id"] for e in seen} == {bobs["id"]}
    everything = (await client.get("/api/changes", params={"since": start}, headers=admin)).json()["items"]
    assert {e["account_id"] for e in everything} == {alices["id"], bobs["id"]}

    async def delivered() -> list[Any]:
        return [d for d in receivers.delivered if d[0] == HOOK]

    await eventually(delivered)
    assert {d[2].change.account_id for d in await delivered()} == {UUID(bobs["id"])}


async def test_keys_are_made_by_a_signed_in_user_with_an_expiry_that_names_its_zone(
    client: AsyncTestClient[Litestar], login: Login
) -> None:
    admin = await login()
    strong = await client.post("/api/keys", json={"name": "ops", "scopes": ["read", "write", "admin"]}, headers=admin)
    assert strong.status_code == 201
    by_key = await client.post(
        "/api/keys", json={"name": "forever", "scopes": ["read"]}, headers=bearer(strong.json()["key"])
    )
    assert by_key.status_code == 403, "a key could outlive its expiry and deletion through keys it made"
    naive = await client.post(
        "/api/keys", json={"name": "n", "scopes": ["read"], "expires_at": "2030-01-01T00:00:00"}, headers=admin
    )
    assert (naive.status_code, naive.json()["errors"][0]["field"]) == (422, "expires_at")


async def test_searching_another_members_folder_is_as_if_it_did_not_exist(
    app: Litestar, client: AsyncTestClient[Litestar], login: Login
) -> None:
    admin, bob = await login(), await login(email="bob@acme.test")
    server = await app.state.dishka_container.get(FakeImapServer)
    server.deliver("INBOX", mail_corpus.plain(Subject=b"private"))
    alices = (await client.post("/api/accounts", json=account_body("alice@example.com"), headers=admin)).json()
    await client.post("/api/accounts", json=account_body("bob@example.com"), headers=bob)
    await client.post(f"/api/sync/imap/{alices['id']}", headers=admin)
    await wait_for_idle(client, alices["id"], admin)
    inbox = (await client.get(f"/api/accounts/{alices['id']}/mailboxes", headers=admin)).json()["items"][0]
    made_up = "00000000-0000-7000-8000-000000000000"
    for mailbox in (inbox["id"], made_up):
        answer = await client.get("/api/sync/search", params={"mailbox_id": mailbox}, headers=bob)
        assert answer.status_code == 404, mailbox
