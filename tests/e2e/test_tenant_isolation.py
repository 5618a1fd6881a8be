"""Tenant B tries every route that takes an id with tenant A's ids: always 404, nothing changes.

The routes come from the app itself, so a new endpoint with an `{…_id}` path parameter is covered without
editing this test.
"""

import re
from typing import Any

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


async def test_every_id_route_answers_404_for_another_tenants_ids(
    app: Litestar, client: AsyncTestClient[Litestar], login: Login
) -> None:
    acme, globex = await login(), await login(tenant="globex", email="eve@globex.test")
    server = await app.state.dishka_container.get(FakeImapServer)
    server.deliver("INBOX", nested_with_attached_message())
    account = (await client.post("/api/accounts", json=account_body(), headers=acme)).json()
    await client.post(f"/api/sync/imap/{account['id']}", headers=acme)
    await wait_for_idle(client, account["id"], acme)
    mailbox = (await client.get(f"/api/accounts/{account['id']}/mailboxes", headers=acme)).json()["items"][0]
    listed = (await client.get(f"/api/accounts/{account['id']}/messages", headers=acme)).json()["items"][0]
    message = (await client.get(f"/api/messages/{listed['id']}", headers=acme)).json()
    draft = (
        await client.post("/api/compose", json={"account_id": account["id"], "to": ["b@example.org"]}, headers=acme)
    ).json()
    webhook = (
        await client.post("/api/webhooks", json={"url": "https://hooks.example.com/", "events": ["*"]}, headers=acme)
    ).json()
    ids = {
        "webhook_id": webhook["id"],
        "draft_id": draft["id"],
        "account_id": account["id"],
        "message_id": message["id"],
        "attachment_id": message["attachments"][0]["id"],
        "thread_id": message["thread_id"],
    }
    bodies: dict[str, Any] = {
        "PUT": account_body("eve@globex.test"),
        "PATCH /api/accounts": {"name": "Taken over"},
        "PATCH /api/messages": {"seen": True},
        "POST": {"mailbox_id": mailbox["id"]},
        "PUT /api/compose": {"subject": "Taken over"},
        "PATCH /api/webhooks": {"url": "https://evil.example.com/"},
        "POST /api/webhooks": None,
        "POST /api/compose": {},
    }

    routes = id_routes(app)
    assert ("DELETE", "/api/accounts/{account_id:uuid}") in routes
    for method, template in routes:
        path = _ID_PARAMETER.sub(lambda m: ids[m.group(1)], template)
        body = bodies.get(f"{method} {template[: template.index('/{')]}", bodies.get(method))
        answer = await client.request(method, path, headers=globex, json=body)
        assert answer.status_code == 404, (method, template, answer.text)
        assert account["email"] not in answer.text

    assert (await client.get("/api/accounts", headers=globex)).json() == {"items": [], "total": 0}
    assert (await client.get("/api/sync/search", headers=globex)).json() == {"items": [], "next_cursor": None}
    assert (await client.get(f"/api/messages/{message['id']}", headers=acme)).json() == message
    assert (await client.get(f"/api/accounts/{account['id']}", headers=acme)).json() == account
    assert (await client.get(f"/api/compose/{draft['id']}", headers=acme)).json() == draft
    assert (await client.get("/api/webhooks", headers=globex)).json() == {"items": []}
    assert (await client.get("/api/changes", params={"since": "0"}, headers=globex)).json()["items"] == []
    shown = (await client.get(f"/api/webhooks/{webhook['id']}", headers=acme)).json()
    assert (shown["url"], shown["enabled"]) == ("https://hooks.example.com/", True)
