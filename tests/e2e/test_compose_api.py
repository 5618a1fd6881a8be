"""Drafts and sending over HTTP on the in-memory adapters; the send job runs in the in-process broker against
the scripted SMTP server, and the copy lands in the fake IMAP server's Sent folder."""

import asyncio
import base64
import email
from collections.abc import AsyncIterator
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from adapters.memory.imap import FakeImapFolder, FakeImapServer
from adapters.memory.mail import ScriptedMailServers
from adapters.memory.store import MemoryStore
from application.users.register import NewUser, RegisterUser
from entrypoints.http.app import create_app
from entrypoints.ioc import MemoryProvider
from entrypoints.settings import load_settings
from tests.e2e.conftest import PASSWORD, account_body
from tests.e2e.test_sync_api import wait_for_idle
from tests.unit import mail_corpus

LIMIT = 64 * 1024


@pytest.fixture
def app(tmp_path: Path) -> Litestar:
    environ = {"MAILROOM_DATA_DIR": str(tmp_path), "MAILROOM_MAX_MESSAGE_BYTES": str(LIMIT)}
    return create_app(MemoryProvider(), settings=load_settings(environ))


@pytest.fixture
async def world(app: Litestar) -> AsyncIterator[dict[str, Any]]:
    """A client logged in to tenant acme with one mail account, and the fakes behind it."""
    container = app.state.dishka_container
    async with AsyncTestClient(app) as client:
        auth = {}
        for tenant, user in (("acme", "alice@acme.test"), ("globex", "eve@globex.test")):
            async with container() as request:
                await (await request.get(RegisterUser))(NewUser(tenant, user, PASSWORD))
            login = await client.post("/api/auth/login", json={"tenant": tenant, "email": user, "password": PASSWORD})
            auth[tenant] = {"Authorization": f"Bearer {login.json()['access_token']}"}
        servers = await container.get(ScriptedMailServers)
        servers.accept("smtp.example.com", "alice", "smtp-pw")
        imap = await container.get(FakeImapServer)
        imap.folders["Sent"] = FakeImapFolder(special_use=["\\Sent"])
        account = (await client.post("/api/accounts", json=account_body(), headers=auth["acme"])).json()
        yield {
            "client": client,
            "auth": auth["acme"],
            "other": auth["globex"],
            "account": account,
            "servers": servers,
            "imap": imap,
            "store": await container.get(MemoryStore),
        }


async def shown_when(client: AsyncTestClient[Litestar], draft_id: str, auth: dict[str, str], status: str) -> Any:
    body: Any = None
    for _ in range(200):
        body = (await client.get(f"/api/compose/{draft_id}", headers=auth)).json()
        if body["status"] == status:
            return body
        await asyncio.sleep(0.01)
    raise AssertionError(body)


async def test_compose_send_and_read_the_status(world: dict[str, Any]) -> None:
    client, auth = world["client"], world["auth"]
    created = await client.post(
        "/api/compose",
        json={
            "account_id": world["account"]["id"],
            "to": ["Bob Builder <bob@example.org>", {"address": "carol@example.org"}],
            "bcc": ["boss@example.org"],
            "subject": "Grüße — 会議",
            "text": "Hallo",
            "html": "<p>Hallo</p>",
            "attachments": [
                {
                    "filename": "März.txt",
                    "content_type": "text/plain",
                    "content_base64": base64.b64encode(b"hi").decode(),
                }
            ],
        },
        headers=auth,
    )
    assert created.status_code == 201, created.text
    draft = created.json()
    assert draft["status"] == "draft"
    assert draft["from"] == {"name": "Work", "address": "alice@example.com"}
    assert draft["to"] == [
        {"name": "Bob Builder", "address": "bob@example.org"},
        {"name": "", "address": "carol@example.org"},
    ]
    assert [(a["filename"], a["size"]) for a in draft["attachments"]] == [("März.txt", 2)]

    queued = await client.post(f"/api/compose/{draft['id']}/send", headers=auth)
    assert queued.status_code == 202
    assert set(queued.json()) == {"job_id", "status", "draft_id", "send_at"}
    assert queued.json()["status"] == "queued"
    sent = await shown_when(client, draft["id"], auth, "sent")
    assert sent["attempts"] == 1
    assert sent["message_id"].endswith("@example.com>")
    assert sent["sent_at"] is not None

    [mail] = world["servers"].sent
    assert mail.envelope.recipients == ("bob@example.org", "carol@example.org", "boss@example.org")
    parsed = email.message_from_bytes(mail.message, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    assert parsed["Subject"] == "Grüße — 会議"
    assert parsed["Message-ID"] == sent["message_id"]
    assert parsed["Bcc"] is None
    filed = [m.raw for m in world["imap"].folders["Sent"].messages.values()]
    assert filed == [b"Bcc: boss@example.org\r\n" + mail.message], "the Sent copy alone names the Bcc recipient"
    assert (await client.put(f"/api/compose/{draft['id']}", json={"subject": "x"}, headers=auth)).status_code == 409


async def test_a_reply_threads_to_the_original_and_a_forward_attaches_it(world: dict[str, Any], app: Litestar) -> None:
    client, auth, account = world["client"], world["auth"], world["account"]
    original = mail_corpus.plain(b"Hi there", Subject=b"Lunch?", Message_ID=b"<lunch@example.net>")
    original = original.replace(b"From: ", b"Reply-To: Zoe <zoe@example.net>\r\nFrom: ", 1)
    world["imap"].deliver("INBOX", original)
    await client.post(f"/api/sync/imap/{account['id']}", headers=auth)
    await wait_for_idle(client, account["id"], auth)
    [message] = (await client.get(f"/api/accounts/{account['id']}/messages", headers=auth)).json()["items"]

    reply = (
        await client.post(
            "/api/compose", json={"account_id": account["id"], "in_reply_to": message["id"]}, headers=auth
        )
    ).json()
    assert reply["subject"] == "Re: Lunch?"
    assert reply["in_reply_to"] == "<lunch@example.net>"
    assert reply["references"] == ["<lunch@example.net>"]
    assert reply["to"] == [{"name": "Zoe", "address": "zoe@example.net"}]

    forward = (
        await client.post(
            "/api/compose",
            json={"account_id": account["id"], "forward_of": message["id"], "to": ["bob@example.org"]},
            headers=auth,
        )
    ).json()
    assert forward["subject"] == "Fwd: Lunch?"
    assert [(a["filename"], a["content_type"]) for a in forward["attachments"]] == [("Lunch.eml", "message/rfc822")]
    await client.post(f"/api/compose/{forward['id']}/send", headers=auth)
    await shown_when(client, forward["id"], auth, "sent")
    parsed = email.message_from_bytes(world["servers"].sent[-1].message, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    [attached] = list(parsed.iter_attachments())
    assert attached.get_content_type() == "message/rfc822"
    assert attached.get_content()["Message-ID"] == "<lunch@example.net>"


async def test_files_can_come_as_multipart_form_data(world: dict[str, Any]) -> None:
    client, auth = world["client"], world["auth"]
    answer = await client.post(
        "/api/compose",
        data={
            "account_id": world["account"]["id"],
            "to": "bob@example.org, Carol <carol@example.org>",
            "subject": "Scan",
        },
        files={"scan": ("Scan 1.pdf", b"%PDF-1.4 scanned", "application/pdf")},
        headers=auth,
    )
    assert answer.status_code == 201, answer.text
    draft = answer.json()
    assert [a["address"] for a in draft["to"]] == ["bob@example.org", "carol@example.org"]
    assert [(a["filename"], a["content_type"], a["size"]) for a in draft["attachments"]] == [
        ("Scan 1.pdf", "application/pdf", 16)
    ]


async def test_saving_updates_only_the_fields_given_and_keeps_attachments(world: dict[str, Any]) -> None:
    client, auth = world["client"], world["auth"]
    content = base64.b64encode(b"data").decode()
    first = await client.post(
        "/api/compose/draft",
        json={
            "account_id": world["account"]["id"],
            "subject": "v1",
            "text": "body",
            "attachments": [{"filename": "a.bin", "content_base64": content}],
        },
        headers=auth,
    )
    assert first.status_code == 201
    draft = first.json()
    saved = await client.post("/api/compose/draft", json={"id": draft["id"], "subject": "v2"}, headers=auth)
    assert saved.status_code == 200
    assert (saved.json()["subject"], saved.json()["text"], saved.json()["attachments"]) == (
        "v2",
        "body",
        draft["attachments"],
    )
    kept = draft["attachments"][0]["id"]
    put = await client.put(
        f"/api/compose/{draft['id']}",
        json={"attachments": [{"id": kept}, {"filename": "b.bin", "content_base64": content}]},
        headers=auth,
    )
    assert [a["filename"] for a in put.json()["attachments"]] == ["a.bin", "b.bin"]
    assert (await client.delete(f"/api/compose/{draft['id']}", headers=auth)).status_code == 204
    assert (await client.get(f"/api/compose/{draft['id']}", headers=auth)).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"subject": "Hi\r\nBcc: victim@example.org"}, "subject"),
        ({"to": ["Eve\nBcc: x@example.org <eve@example.org>"]}, "to.0"),
        ({"to": [{"name": "Eve", "address": "eve@example.org\r\nBcc: x@example.org"}]}, "to.0.address"),
        ({"to": ["not an address"]}, "to.0"),
        ({"cc": [{"address": "bob@"}]}, "cc.0.address"),
        ({"attachments": [{"filename": "a\r\nb.txt", "content_base64": "aGk="}]}, "attachments.0.filename"),
        ({"attachments": [{"filename": "a.txt", "content_base64": "not base64!"}]}, "attachments.0.content_base64"),
        ({"attachments": [{"filename": "a.txt", "content_type": "text", "content_base64": "aGk="}]}, "attachments.0"),
        ({"to": ["a@example.org, b@example.org"]}, "to.0"),
        ({"bogus": 1}, "bogus"),
        ({"id": "0193a8f2-5c1e-7c4e-9b7a-3f2d1c0b9a88"}, "id"),  # creating takes no id; changing, only the path's
    ],
)
async def test_bad_input_answers_422_and_changes_nothing(
    world: dict[str, Any], body: dict[str, Any], field: str
) -> None:
    client, auth = world["client"], world["auth"]
    draft = (await client.post("/api/compose", json={"account_id": world["account"]["id"]}, headers=auth)).json()
    before = dict(world["store"].drafts)
    for answer in (
        await client.post("/api/compose", json={"account_id": world["account"]["id"], **body}, headers=auth),
        await client.put(f"/api/compose/{draft['id']}", json=body, headers=auth),
    ):
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert any(e["field"].startswith(field) for e in answer.json()["errors"]), answer.json()
    assert world["store"].drafts.keys() == before.keys()
    assert world["servers"].sent == []


async def test_an_encoded_word_that_would_become_a_header_is_refused_at_send(world: dict[str, Any]) -> None:
    """CPython before 3.11.10 / 3.12.5 re-folds `=?UTF-8?Q?=0A?=` into a real line break (CVE-2024-6923)."""
    client, auth = world["client"], world["auth"]
    body = {
        "account_id": world["account"]["id"],
        "to": ["bob@example.org"],
        "subject": "=?UTF-8?Q?=0A?=Bcc: victim@example.org " + "x" * 80,
    }
    draft = (await client.post("/api/compose", json=body, headers=auth)).json()
    refused = await client.post(f"/api/compose/{draft['id']}/send", headers=auth)
    assert refused.status_code in (202, 422)
    if refused.status_code == 202:  # a fixed Python writes the words as text: then no Bcc header may appear
        await shown_when(client, draft["id"], auth, "sent")
        assert b"\r\nBcc:" not in world["servers"].sent[0].message
    else:
        assert refused.json()["errors"][0]["field"] == "subject"
        assert (await client.get(f"/api/compose/{draft['id']}", headers=auth)).json()["status"] == "draft"
        assert world["servers"].sent == []


async def test_sending_needs_a_recipient_and_an_account_of_ones_own(world: dict[str, Any]) -> None:
    client, auth, other = world["client"], world["auth"], world["other"]
    draft = (await client.post("/api/compose", json={"account_id": world["account"]["id"]}, headers=auth)).json()
    no_recipient = await client.post(f"/api/compose/{draft['id']}/send", headers=auth)
    assert no_recipient.status_code == 422
    assert no_recipient.json()["errors"][0]["field"] == "to"
    assert (await client.get(f"/api/compose/{draft['id']}", headers=auth)).json()["status"] == "draft"
    for account_id in (world["account"]["id"], "01a2131b-0000-7000-8000-000000000000"):
        refused = await client.post("/api/compose", json={"account_id": account_id, "to": ["a@b.org"]}, headers=other)
        assert refused.status_code == 404
    assert (await client.post("/api/compose", json={"to": ["a@b.org"]}, headers=auth)).status_code == 422
    assert world["servers"].sent == []


async def test_too_large_answers_413(world: dict[str, Any]) -> None:
    client, auth = world["client"], world["auth"]
    big = base64.b64encode(b"x" * (LIMIT + 1)).decode()
    answer = await client.post(
        "/api/compose",
        json={"account_id": world["account"]["id"], "attachments": [{"filename": "big.bin", "content_base64": big}]},
        headers=auth,
    )
    assert answer.status_code == 413
    assert answer.headers["content-type"] == "application/problem+json"
    long_text = await client.post(
        "/api/compose",
        content=b'{"account_id": "%s", "text": "' % world["account"]["id"].encode() + b"x" * (LIMIT + 1) + b'"}',
        headers=auth | {"Content-Type": "application/json"},
    )
    assert long_text.status_code == 413
    assert world["store"].drafts == {}


async def test_the_same_idempotency_key_sends_once(world: dict[str, Any]) -> None:
    client, auth = world["client"], world["auth"]
    draft = (
        await client.post(
            "/api/compose", json={"account_id": world["account"]["id"], "to": ["bob@example.org"]}, headers=auth
        )
    ).json()
    key = {"Idempotency-Key": "5f1c-retry-after-timeout"}
    first = await client.post(f"/api/compose/{draft['id']}/send", headers=auth | key)
    await shown_when(client, draft["id"], auth, "sent")
    again = await client.post(f"/api/compose/{draft['id']}/send", headers=auth | key)
    assert again.status_code == 202
    assert again.json() == first.json()
    assert (await client.post(f"/api/compose/{draft['id']}/send", headers=auth)).status_code == 409
    assert len(world["servers"].sent) == 1


async def test_a_scheduled_send_waits_and_can_be_cancelled(world: dict[str, Any]) -> None:
    client, auth = world["client"], world["auth"]
    draft = (
        await client.post(
            "/api/compose", json={"account_id": world["account"]["id"], "to": ["bob@example.org"]}, headers=auth
        )
    ).json()
    naive = await client.post(f"/api/compose/{draft['id']}/send", json={"send_at": "2099-01-01T09:00:00"}, headers=auth)
    assert naive.status_code == 422
    beyond = {"send_at": "9999-12-31T23:59:59-14:00"}  # after the last moment UTC can hold
    assert (await client.post(f"/api/compose/{draft['id']}/send", json=beyond, headers=auth)).status_code == 422
    queued = await client.post(
        f"/api/compose/{draft['id']}/send", json={"send_at": "2099-01-01T09:00:00Z"}, headers=auth
    )
    assert queued.json()["send_at"] == "2099-01-01T09:00:00Z"
    shown = (await client.get(f"/api/compose/{draft['id']}", headers=auth)).json()
    assert (shown["status"], shown["send_at"]) == ("queued", "2099-01-01T09:00:00Z")
    assert (await client.put(f"/api/compose/{draft['id']}", json={"subject": "x"}, headers=auth)).status_code == 409
    assert (await client.delete(f"/api/compose/{draft['id']}", headers=auth)).status_code == 204
    assert world["servers"].sent == []


async def test_from_must_be_the_accounts_address_or_an_alias(world: dict[str, Any]) -> None:
    client, auth, account = world["client"], world["auth"], world["account"]
    draft = {"account_id": account["id"], "to": ["bob@example.org"], "subject": "hi", "text": "hi"}
    for spoofed in ("ceo@example.com", "Alice <alice@example.com.evil.test>"):
        answer = await client.post("/api/compose", json=draft | {"from": spoofed}, headers=auth)
        assert (answer.status_code, answer.headers["content-type"]) == (422, "application/problem+json"), spoofed
        assert [e["field"] for e in answer.json()["errors"]] == ["from.address"]
    assert world["store"].drafts == {}

    aliased = await client.patch(
        f"/api/accounts/{account['id']}", json={"aliases": ["Support@Example.com"]}, headers=auth
    )
    assert (aliased.status_code, aliased.json()["aliases"]) == (200, ["Support@Example.com"])
    created = await client.post("/api/compose", json=draft | {"from": "Support <support@example.com>"}, headers=auth)
    assert created.status_code == 201, created.text
    own = await client.post("/api/compose", json=draft | {"from": "ALICE@example.com"}, headers=auth)
    assert own.status_code == 201, own.text

    await client.patch(f"/api/accounts/{account['id']}", json={"aliases": []}, headers=auth)
    refused = await client.post(f"/api/compose/{created.json()['id']}/send", headers=auth)
    assert refused.status_code == 422, "an alias removed after the draft was saved no longer sends"
    assert (await client.get(f"/api/compose/{created.json()['id']}", headers=auth)).json()["status"] == "draft"
    assert world["servers"].sent == []
    assert (await client.post(f"/api/compose/{own.json()['id']}/send", headers=auth)).status_code == 202


@pytest.mark.parametrize("aliases", [["not-an-address"], ["a@example.com\r\nBcc: x@y.z"], ["a@b.c"] * 51])
async def test_bad_aliases_are_a_422(world: dict[str, Any], aliases: list[str]) -> None:
    client, auth, account = world["client"], world["auth"], world["account"]
    answer = await client.patch(f"/api/accounts/{account['id']}", json={"aliases": aliases}, headers=auth)
    assert answer.status_code == 422, answer.text
    assert (await client.get(f"/api/accounts/{account['id']}", headers=auth)).json()["aliases"] == []
