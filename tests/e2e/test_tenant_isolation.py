"""Every route that takes an id, tried with ids the caller may not use: another tenant's (always 404, nothing
changes), and another member's of the same tenant, without a grant (404 as well), with a read grant and with a
full grant (what the grant covers answers, the rest is 403 or 404 as the rules of domain.access say).

The routes come from the app itself, so a new endpoint with an `{…_id}` path parameter is covered without
editing this test: it fails until the route is given an expectation here.
"""

import re
from dataclasses import dataclass
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from adapters.memory.imap import FakeImapServer
from tests.e2e.conftest import Login, account_body
from tests.e2e.test_sync_api import wait_for_idle
from tests.unit.mail_corpus import nested_with_attached_message

_ID_PARAMETER = re.compile(r"\{(\w+_id):\w+\}")


def id_routes(app: Litestar) -> list[tuple[str, str]]:
    routes = []
    for route in app.routes:
        if not _ID_PARAMETER.search(route.path):
            continue
        for method in sorted(getattr(route, "methods", ())):
            if method not in ("HEAD", "OPTIONS"):
                routes.append((method, route.path))
    return routes


@dataclass
class Alices:
    """Alice's account with a synced message, a draft, a webhook and an API key; her auth header and ids."""

    auth: dict[str, str]
    account: dict[str, Any]
    message: dict[str, Any]
    draft: dict[str, Any]
    webhook: dict[str, Any]
    ids: dict[str, str]
    mailbox_id: str


async def alices_things(app: Litestar, client: AsyncTestClient[Litestar], auth: dict[str, str]) -> Alices:
    server = await app.state.dishka_container.get(FakeImapServer)
    server.deliver("INBOX", nested_with_attached_message())
    account = (await client.post("/api/accounts", json=account_body(), headers=auth)).json()
    await client.post(f"/api/sync/imap/{account['id']}", headers=auth)
    await wait_for_idle(client, account["id"], auth)
    mailbox = (await client.get(f"/api/accounts/{account['id']}/mailboxes", headers=auth)).json()["items"][0]
    listed = (await client.get(f"/api/accounts/{account['id']}/messages", headers=auth)).json()["items"][0]
    message = (await client.get(f"/api/messages/{listed['id']}", headers=auth)).json()
    draft = (
        await client.post("/api/compose", json={"account_id": account["id"], "to": ["b@example.org"]}, headers=auth)
    ).json()
    webhook = (
        await client.post("/api/webhooks", json={"url": "https://hooks.example.com/", "events": ["*"]}, headers=auth)
    ).json()
    key = (await client.post("/api/keys", json={"name": "alice's", "scopes": ["read"]}, headers=auth)).json()
    me = (await client.get("/api/me", headers=auth)).json()
    ids = {
        "webhook_id": webhook["id"],
        "draft_id": draft["id"],
        "account_id": account["id"],
        "message_id": message["id"],
        "attachment_id": message["attachments"][0]["id"],
        "thread_id": message["thread_id"],
        "key_id": key["id"],
        "user_id": me["user_id"],
    }
    return Alices(auth, account, message, draft, webhook, ids, mailbox["id"])


def body_for(method: str, template: str, alice: Alices, caller_email: str) -> Any:
    """A valid body for each route, so that the answer is about who asks, not about what they sent."""
    if "/grants/" in template:
        return {"access": "full"} if method == "PUT" else None
    if template.startswith("/api/accounts/") and method == "PUT":
        return account_body(caller_email)
    if template.startswith("/api/accounts/") and method == "PATCH":
        return {"name": "Taken over"}
    if template.startswith("/api/messages/") and method == "PATCH":
        return {"seen": True}
    if template.endswith("/move"):
        return {"mailbox_id": alice.mailbox_id}
    if template.startswith("/api/compose/") and method == "PUT":
        return {"subject": "Taken over"}
    if template.startswith("/api/webhooks/") and method == "PATCH":
        return {"url": "https://evil.example.com/"}
    if template.startswith("/api/users/") and method == "PATCH":
        return {"role": "member"}
    if template.startswith("/api/compose/") and method == "POST":
        return {}
    return None


def path_of(template: str, ids: dict[str, str]) -> str:
    return _ID_PARAMETER.sub(lambda m: ids[m.group(1)], template)


async def test_every_id_route_answers_404_for_another_tenants_ids(
    app: Litestar, client: AsyncTestClient[Litestar], login: Login
) -> None:
    alice = await alices_things(app, client, await login())
    globex = await login(tenant="globex", email="eve@globex.test")

    routes = id_routes(app)
    assert ("DELETE", "/api/accounts/{account_id:uuid}") in routes
    for method, template in routes:
        body = body_for(method, template, alice, "eve@globex.test")
        answer = await client.request(method, path_of(template, alice.ids), headers=globex, json=body)
        assert answer.status_code == 404, (method, template, answer.text)
        assert alice.account["email"] not in answer.text

    assert (await client.get("/api/accounts", headers=globex)).json() == {"items": [], "total": 0}
    assert (await client.get("/api/sync/search", headers=globex)).json() == {"items": [], "next_cursor": None}
    await _alices_things_are_unchanged(client, alice)
    assert (await client.get("/api/webhooks", headers=globex)).json() == {"items": []}
    assert (await client.get("/api/changes", params={"since": "0"}, headers=globex)).json()["items"] == []


def member_expects(method: str, template: str, grant: str | None) -> int:
    """What a member of Alice's tenant gets on Alice's ids: the rules of domain.access, route by route."""
    if template.startswith("/api/users/"):
        return 403  # admins only, whoever the user is
    if template.startswith(("/api/webhooks/", "/api/keys/")):
        return 404  # a member sees their own endpoints and keys only
    if grant is None:
        return 404  # the account is out of reach, and everything under it
    if "/grants" in template or (template == "/api/accounts/{account_id:uuid}" and method != "GET"):
        return 403  # sharing, changing and deleting the account are its owner's and the admins'
    if template.startswith("/api/compose/"):
        return 403 if grant == "read" else {"GET": 200, "PUT": 200, "DELETE": 204, "POST": 202}[method]
    if method == "GET":
        return 200
    if template.startswith("/api/sync/"):
        return 202  # a sync changes only Mailroom's copy: reading is enough
    if grant == "read":
        return 403
    return {"PATCH": 200, "POST": 202, "DELETE": 202}[method]


_DESTRUCTIVE = {
    ("POST", "/api/compose/{draft_id:uuid}/send"),
    ("DELETE", "/api/compose/{draft_id:uuid}"),
    ("POST", "/api/messages/{message_id:uuid}/move"),
    ("DELETE", "/api/messages/{message_id:uuid}"),
}


@pytest.mark.parametrize("grant", [None, "read", "full"])
async def test_every_id_route_follows_the_grant_for_another_member_of_the_tenant(
    app: Litestar, client: AsyncTestClient[Litestar], login: Login, grant: str | None
) -> None:
    alice = await alices_things(app, client, await login())
    bob = await login(email="bob@acme.test")
    bob_id = (await client.get("/api/me", headers=bob)).json()["user_id"]
    if grant is not None:
        granted = await client.put(
            f"/api/accounts/{alice.ids['account_id']}/grants/{bob_id}", json={"access": grant}, headers=alice.auth
        )
        assert granted.status_code == 200, granted.text

    routes = [r for r in id_routes(app) if grant != "full" or r not in _DESTRUCTIVE]
    for method, template in routes:
        body = body_for(method, template, alice, "bob@acme.test")
        answer = await client.request(method, path_of(template, alice.ids), headers=bob, json=body)
        wanted = member_expects(method, template, grant)
        assert answer.status_code == wanted, (grant, method, template, answer.text)
        if wanted == 404:
            assert alice.account["email"] not in answer.text

    listed = (await client.get("/api/accounts", headers=bob)).json()
    assert [a["id"] for a in listed["items"]] == ([] if grant is None else [alice.ids["account_id"]])
    found = (await client.get("/api/sync/search", headers=bob)).json()["items"]
    assert [m["id"] for m in found] == ([] if grant is None else [alice.ids["message_id"]])
    assert (await client.get("/api/webhooks", headers=bob)).json() == {"items": []}
    assert (await client.get("/api/keys", headers=bob)).json() == {"items": []}
    if grant is None:
        await _alices_things_are_unchanged(client, alice)
    shown = (await client.get(f"/api/webhooks/{alice.ids['webhook_id']}", headers=alice.auth)).json()
    assert (shown["url"], shown["enabled"]) == ("https://hooks.example.com/", True)
    account = (await client.get(f"/api/accounts/{alice.ids['account_id']}", headers=alice.auth)).json()
    assert account["name"] == alice.account["name"]


async def _alices_things_are_unchanged(client: AsyncTestClient[Litestar], alice: Alices) -> None:
    auth = alice.auth
    assert (await client.get(f"/api/messages/{alice.ids['message_id']}", headers=auth)).json() == alice.message
    assert (await client.get(f"/api/accounts/{alice.ids['account_id']}", headers=auth)).json() == alice.account
    assert (await client.get(f"/api/compose/{alice.ids['draft_id']}", headers=auth)).json() == alice.draft
    shown = (await client.get(f"/api/webhooks/{alice.ids['webhook_id']}", headers=auth)).json()
    assert (shown["url"], shown["enabled"]) == ("https://hooks.example.com/", True)
    keys = (await client.get("/api/keys", headers=auth)).json()["items"]
    assert [k["id"] for k in keys] == [alice.ids["key_id"]]
