"""The audit trail as a tenant's admin reads it: logins, account changes and sends, with request id and address;
members may not read it, and no tenant sees another's events."""

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.e2e.conftest import Login, account_body


async def test_admins_read_what_happened_in_their_tenant(
    app: Litestar, client: AsyncTestClient[Litestar], login: Login
) -> None:
    admin = await login()
    await client.post("/api/auth/login", json={"tenant": "acme", "email": "alice@acme.test", "password": "wrong"})
    account = (await client.post("/api/accounts", json=account_body(), headers=admin | {"X-Request-ID": "r-1"})).json()
    await client.patch(f"/api/accounts/{account['id']}", json={"name": "Renamed"}, headers=admin)
    draft = (
        await client.post("/api/compose", json={"account_id": account["id"], "to": ["b@example.org"]}, headers=admin)
    ).json()
    await client.post(f"/api/compose/{draft['id']}/send", headers=admin)
    await client.delete(f"/api/accounts/{account['id']}", headers=admin)

    trail = (await client.get("/api/audit", headers=admin)).json()
    actions = [event["action"] for event in reversed(trail["items"])]
    assert actions == [
        "login.succeeded",
        "login.failed",
        "account.created",
        "account.updated",
        "message.send_queued",
        "account.deleted",
    ]
    assert trail["total"] == 6
    created = next(e for e in trail["items"] if e["action"] == "account.created")
    assert (created["target"], created["request_id"], created["client_address"]) == (
        account["id"],
        "r-1",
        "testclient",
    )
    failed = next(e for e in trail["items"] if e["action"] == "login.failed")
    assert (failed["actor_id"], failed["target"]) == (None, "alice@acme.test")
    assert "wrong" not in str(trail)


async def test_members_may_not_read_it_and_other_tenants_see_none_of_it(
    app: Litestar, client: AsyncTestClient[Litestar], login: Login
) -> None:
    admin = await login()
    member = await login(tenant="acme", email="bob@acme.test")  # a later user of a tenant is a member
    forbidden = await client.get("/api/audit", headers=member)
    assert forbidden.status_code == 403
    assert forbidden.headers["content-type"] == "application/problem+json"
    other_admin = await login(tenant="globex", email="eve@globex.test")
    await client.post("/api/accounts", json=account_body(), headers=admin)
    theirs = (await client.get("/api/audit", headers=other_admin)).json()
    assert [e["action"] for e in theirs["items"]] == ["login.succeeded"]
