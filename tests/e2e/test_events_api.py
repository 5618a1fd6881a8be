"""The change feed and webhook endpoints over HTTP, on the in-memory adapters: syncs and API changes run as
in-process jobs, and webhook receivers are the scripted fake (the real HTTP deliveries are tested against real
receivers in tests/integration/test_events_on_mail_servers.py)."""

import asyncio
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from adapters.memory.imap import FakeImapServer
from adapters.memory.webhooks import ScriptedWebhookTransport
from domain.webhooks import AttemptOutcome
from tests.e2e.conftest import Login, account_body
from tests.e2e.test_sync_api import wait_for_idle
from tests.unit import mail_corpus

HOOK = "https://hooks.example.com/mailroom"


async def feed(client: AsyncTestClient[Litestar], auth: dict[str, str], since: str, **params: Any) -> dict[str, Any]:
    answer = await client.get("/api/changes", params={"since": since, **params}, headers=auth)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def eventually(check: Any, tries: int = 200) -> Any:
    for _ in range(tries):
        if result := await check():
            return result
        await asyncio.sleep(0.02)
    raise AssertionError("did not happen")


@pytest.fixture
async def mailbox(app: Litestar, client: AsyncTestClient[Litestar], login: Login) -> dict[str, Any]:
    server = await app.state.dishka_container.get(FakeImapServer)
    server.deliver("INBOX", mail_corpus.plain(Subject=b"old", Message_ID=b"<old@example.com>"))
    auth = await login()
    start = (await client.get("/api/changes", headers=auth)).json()
    account = (await client.post("/api/accounts", json=account_body(), headers=auth)).json()
    await client.post(f"/api/sync/imap/{account['id']}", headers=auth)
    await wait_for_idle(client, account["id"], auth)
    return {"auth": auth, "account": account, "server": server, "start": start}


async def sync(client: AsyncTestClient[Litestar], mailbox: dict[str, Any]) -> None:
    await client.post(f"/api/sync/imap/{mailbox['account']['id']}", headers=mailbox["auth"])
    await wait_for_idle(client, mailbox["account"]["id"], mailbox["auth"])


async def test_without_a_cursor_the_feed_answers_where_now_is(client: AsyncTestClient[Litestar], login: Login) -> None:
    auth = await login()
    answer = (await client.get("/api/changes", headers=auth)).json()
    assert answer == {"items": [], "next_cursor": "0", "has_more": False}


async def test_first_sync_then_new_mail_and_a_flag_change_in_the_feed(
    client: AsyncTestClient[Litestar], mailbox: dict[str, Any]
) -> None:
    auth, account = mailbox["auth"], mailbox["account"]
    first = await feed(client, auth, mailbox["start"]["next_cursor"])
    assert [e["type"] for e in first["items"]] == ["account.synced"]
    assert first["items"][0]["data"]["initial"] is True

    mailbox["server"].deliver("INBOX", mail_corpus.plain(Subject=b"fresh", Message_ID=b"<new@example.com>"))
    await sync(client, mailbox)
    page = await feed(client, auth, first["next_cursor"], types="message.created")
    [created] = page["items"]
    listed = (await client.get(f"/api/accounts/{account['id']}/messages", headers=auth)).json()["items"]
    [as_listed] = [m for m in listed if m["subject"] == "fresh"]
    assert created["data"]["message"] == as_listed
    assert (created["account_id"], created["cursor"]) == (account["id"], str(created["sequence"]))

    flagged = await client.patch(f"/api/messages/{as_listed['id']}", json={"flagged": True}, headers=auth)
    assert flagged.status_code == 200, flagged.text
    [updated] = (await feed(client, auth, page["next_cursor"]))["items"]
    assert updated["type"] == "message.updated"
    assert updated["data"]["changes"]["flags"]["before"]["flagged"] is False
    assert updated["data"]["message"]["flags"]["flagged"] is True


async def test_bad_cursors_and_types_are_refused_clearly(client: AsyncTestClient[Litestar], login: Login) -> None:
    auth = await login()
    ahead = await client.get("/api/changes", params={"since": "99"}, headers=auth)
    assert (ahead.status_code, ahead.json()["type"]) == (410, "urn:mailroom:problem:cursor-expired")
    assert ahead.headers["content-type"].startswith("application/problem+json")
    garbage = await client.get("/api/changes", params={"since": "abc"}, headers=auth)
    assert (garbage.status_code, garbage.json()["errors"][0]["field"]) == (422, "since")
    unknown = await client.get("/api/changes", params={"since": "0", "types": "message.exploded"}, headers=auth)
    assert (unknown.status_code, unknown.json()["errors"][0]["field"]) == (422, "types")
    stream = await client.get("/api/events/stream", headers=auth | {"Last-Event-ID": "99"})
    assert stream.status_code == 410


async def test_a_webhook_hears_new_mail_and_shows_its_deliveries(
    app: Litestar, client: AsyncTestClient[Litestar], mailbox: dict[str, Any]
) -> None:
    auth = mailbox["auth"]
    receivers = await app.state.dishka_container.get(ScriptedWebhookTransport)
    made = await client.post("/api/webhooks", json={"url": HOOK, "events": ["message.created"]}, headers=auth)
    assert made.status_code == 201, made.text
    hook = made.json()
    assert hook["secret"].startswith("whsec_")
    assert made.headers["location"] == f"/api/webhooks/{hook['id']}"
    shown = (await client.get(f"/api/webhooks/{hook['id']}", headers=auth)).json()
    assert "secret" not in shown
    assert shown["events"] == ["message.created"]
    assert [w["id"] for w in (await client.get("/api/webhooks", headers=auth)).json()["items"]] == [hook["id"]]

    receivers.answer(HOOK, AttemptOutcome(500, 2))
    mailbox["server"].deliver("INBOX", mail_corpus.plain(Subject=b"hello", Message_ID=b"<h@example.com>"))
    await sync(client, mailbox)
    await eventually(lambda: _delivered(receivers, 1))
    url, secret, event, _ = receivers.delivered[0]
    assert (url, secret) == (HOOK, hook["secret"])
    assert event.change.data["message"]["subject"] == "hello"

    attempts = (await client.get(f"/api/webhooks/{hook['id']}/deliveries", headers=auth)).json()["items"]
    assert [(a["status_code"], a["event_id"]) for a in attempts] == [(500, str(event.change.id))]
    assert attempts[0]["next_attempt_at"] is not None

    tested = (await client.post(f"/api/webhooks/{hook['id']}/test", headers=auth)).json()
    assert (tested["delivered"], tested["status_code"]) == (True, 200)
    assert receivers.delivered[-1][2].change.type.value == "webhook.test"

    off = await client.patch(f"/api/webhooks/{hook['id']}", json={"enabled": False}, headers=auth)
    assert (off.json()["enabled"], off.json()["disabled_reason"]) == (False, "disabled by a user")
    assert (await client.delete(f"/api/webhooks/{hook['id']}", headers=auth)).status_code == 204
    assert (await client.get(f"/api/webhooks/{hook['id']}", headers=auth)).status_code == 404
    audit = (await client.get("/api/audit", headers=auth)).json()["items"]
    assert [(e["action"], e["target"]) for e in audit if e["action"].startswith("webhook.")] == [
        ("webhook.deleted", hook["id"]),
        ("webhook.updated", hook["id"]),
        ("webhook.created", hook["id"]),
    ]


async def _delivered(receivers: ScriptedWebhookTransport, count: int) -> bool:
    return len(receivers.delivered) >= count


async def test_webhook_bodies_are_checked_and_change_nothing_when_refused(
    app: Litestar, client: AsyncTestClient[Litestar], login: Login
) -> None:
    auth = await login()
    receivers = await app.state.dishka_container.get(ScriptedWebhookTransport)
    receivers.refused["http://169.254.169.254/latest"] = "refused: 169.254.169.254 is not a public address"
    for body, field in [
        ({"url": "http://169.254.169.254/latest", "events": ["*"]}, "url"),
        ({"url": "gopher://example.com/", "events": ["*"]}, "url"),
        ({"url": HOOK, "events": ["nope"]}, "events"),
        ({"url": HOOK, "events": []}, "events"),
        ({"url": HOOK, "events": ["*"], "account_ids": ["0b5e6a1e-3f3c-4d0e-9a51-8f6c2d1e7a10"]}, "account_ids"),
    ]:
        answer = await client.post("/api/webhooks", json=body, headers=auth)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert field in answer.text
    assert (await client.get("/api/webhooks", headers=auth)).json()["items"] == []


async def test_another_tenant_sees_no_event_and_no_webhook_of_this_one(
    app: Litestar, client: AsyncTestClient[Litestar], mailbox: dict[str, Any], login: Login
) -> None:
    auth = mailbox["auth"]
    hook = (await client.post("/api/webhooks", json={"url": HOOK, "events": ["*"]}, headers=auth)).json()
    bob = await login(tenant="globex", email="bob@globex.test")
    bobs_hook = (await client.post("/api/webhooks", json={"url": HOOK + "/bob", "events": ["*"]}, headers=bob)).json()
    mailbox["server"].deliver("INBOX", mail_corpus.plain(Subject=b"private", Message_ID=b"<p@example.com>"))
    await sync(client, mailbox)

    assert (await feed(client, bob, "0"))["items"] == []
    for method, path in [
        ("GET", f"/api/webhooks/{hook['id']}"),
        ("PATCH", f"/api/webhooks/{hook['id']}"),
        ("DELETE", f"/api/webhooks/{hook['id']}"),
        ("POST", f"/api/webhooks/{hook['id']}/test"),
        ("GET", f"/api/webhooks/{hook['id']}/deliveries"),
    ]:
        answer = await client.request(method, path, headers=bob, json={} if method == "PATCH" else None)
        assert answer.status_code == 404, (method, path, answer.text)
    assert [w["id"] for w in (await client.get("/api/webhooks", headers=bob)).json()["items"]] == [bobs_hook["id"]]
    receivers = await app.state.dishka_container.get(ScriptedWebhookTransport)
    await eventually(lambda: _delivered(receivers, 1))
    await asyncio.sleep(0.2)
    assert {url for url, *_ in receivers.delivered} == {HOOK}
