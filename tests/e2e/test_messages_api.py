"""Mailboxes, messages, threads and search over HTTP, on the in-memory adapters; write-backs run as in-process
jobs against the fake IMAP server."""

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from adapters.memory.imap import FakeImapServer
from domain.messages import Flags
from domain.ports.storage import BlobStore
from tests.e2e.conftest import Login, account_body
from tests.e2e.test_sync_api import wait_for_idle
from tests.unit import mail_corpus


async def written_back(done: Callable[[], bool]) -> None:
    """The write-back job runs in the background of the in-process broker."""
    for _ in range(100):
        if done():
            return
        await asyncio.sleep(0.01)


@pytest.fixture
async def synced(app: Litestar, client: AsyncTestClient[Litestar], login: Login) -> dict[str, Any]:
    server = await app.state.dishka_container.get(FakeImapServer)
    server.folders["Trash"] = type(server.folders["INBOX"])(special_use=["\\Trash"])
    server.deliver("INBOX", mail_corpus.plain(Subject=b"first", Message_ID=b"<1@example.com>"), Flags(seen=True))
    forwarded = mail_corpus.nested_with_attached_message()
    server.deliver("INBOX", forwarded)
    server.deliver(
        "INBOX",
        mail_corpus.plain(
            b"reply body", Subject=b"Re: first", Message_ID=b"<3@example.com>", In_Reply_To=b"<1@example.com>"
        ),
    )
    auth = await login()
    account = (await client.post("/api/accounts", json=account_body(), headers=auth)).json()
    await client.post(f"/api/sync/imap/{account['id']}", headers=auth)
    await wait_for_idle(client, account["id"], auth)
    boxes = (await client.get(f"/api/accounts/{account['id']}/mailboxes", headers=auth)).json()["items"]
    return {
        "auth": auth,
        "account": account,
        "server": server,
        "boxes": {b["name"]: b for b in boxes},
        "forwarded": forwarded,
    }


async def test_mailboxes_list_roles_and_counts(synced: dict[str, Any]) -> None:
    inbox, trash = synced["boxes"]["INBOX"], synced["boxes"]["Trash"]
    assert (inbox["role"], inbox["total"], inbox["unread"]) == ("inbox", 3, 2)
    assert (trash["role"], trash["total"]) == ("trash", 0)
    assert inbox["last_synced_at"] is not None


async def test_messages_come_newest_first_a_page_at_a_time(
    client: AsyncTestClient[Litestar], synced: dict[str, Any]
) -> None:
    auth, account = synced["auth"], synced["account"]
    url = f"/api/accounts/{account['id']}/messages"
    first = (await client.get(url, params={"limit": 2}, headers=auth)).json()
    second = (await client.get(url, params={"limit": 2, "cursor": first["next_cursor"]}, headers=auth)).json()
    assert len(first["items"]) == 2
    assert len(second["items"]) == 1
    assert second["next_cursor"] is None
    subjects = [m["subject"] for m in first["items"] + second["items"]]
    assert sorted(subjects) == ["Fwd", "Re: first", "first"]
    item = first["items"][0]
    assert set(item) == {
        "id", "account_id", "mailbox_id", "thread_id", "from", "to", "subject", "preview",
        "date", "internal_date", "flags", "size", "has_attachments", "from_total", "to_total",
    }  # fmt: skip
    unread = (await client.get(url, params={"unread": "true"}, headers=auth)).json()["items"]
    assert sorted(m["subject"] for m in unread) == ["Fwd", "Re: first"]


async def test_a_whole_message_its_raw_bytes_and_an_attachment(
    client: AsyncTestClient[Litestar], synced: dict[str, Any]
) -> None:
    auth = synced["auth"]
    found = (await client.get("/api/sync/search", params={"subject": "fwd"}, headers=auth)).json()["items"]
    message = (await client.get(f"/api/messages/{found[0]['id']}", headers=auth)).json()
    assert (message["text"], message["html"]) == ("text version\n", "<p>html <b>version</b></p>\n")
    assert [(a["filename"], a["content_type"]) for a in message["attachments"]] == [
        ("pic.png", "image/png"),
        (None, "message/rfc822"),
    ]
    raw = await client.get(f"/api/messages/{message['id']}/raw", headers=auth)
    assert raw.headers["content-type"] == "message/rfc822"
    assert raw.content == synced["forwarded"]
    picture = await client.get(
        f"/api/messages/{message['id']}/attachments/{message['attachments'][0]['id']}", headers=auth
    )
    assert picture.content == b"\x89PNG...."
    assert picture.headers["content-type"] == "image/png"
    assert picture.headers["content-disposition"] == "attachment; filename=\"pic.png\"; filename*=UTF-8''pic.png"
    assert picture.headers["x-content-type-options"] == "nosniff"
    attached = await client.get(
        f"/api/messages/{message['id']}/attachments/{message['attachments'][1]['id']}", headers=auth
    )
    assert b"forwarded body" in attached.content


async def test_a_thread_holds_the_reply(client: AsyncTestClient[Litestar], synced: dict[str, Any]) -> None:
    auth = synced["auth"]
    reply = (await client.get("/api/sync/search", params={"q": "reply"}, headers=auth)).json()["items"][0]
    thread = (await client.get(f"/api/threads/{reply['thread_id']}", headers=auth)).json()
    assert [m["subject"] for m in thread["items"]] == ["first", "Re: first"]


async def test_flags_change_at_once_and_reach_the_server(
    client: AsyncTestClient[Litestar], synced: dict[str, Any]
) -> None:
    auth, server = synced["auth"], synced["server"]
    first = (await client.get("/api/sync/search", params={"q": "first", "subject": "re:"}, headers=auth)).json()[
        "items"
    ][0]
    changed = await client.patch(f"/api/messages/{first['id']}", json={"seen": True, "flagged": True}, headers=auth)
    assert changed.status_code == 200
    assert (changed.json()["flags"]["seen"], changed.json()["flags"]["flagged"]) == (True, True)
    await written_back(lambda: server.folders["INBOX"].messages[3].flags.flagged)
    on_server = server.folders["INBOX"].messages[3].flags
    assert (on_server.seen, on_server.flagged) == (True, True)
    inbox = (await client.get(f"/api/accounts/{synced['account']['id']}/mailboxes", headers=auth)).json()["items"]
    assert [b["unread"] for b in inbox if b["name"] == "INBOX"] == [1]


async def test_move_then_delete_twice_ends_in_the_trash_then_gone(
    client: AsyncTestClient[Litestar], synced: dict[str, Any]
) -> None:
    auth, server, boxes = synced["auth"], synced["server"], synced["boxes"]
    first = (await client.get("/api/sync/search", params={"subject": "first"}, headers=auth)).json()["items"]
    target = next(m for m in first if m["subject"] == "first")
    deleted = await client.delete(f"/api/messages/{target['id']}", headers=auth)
    assert deleted.status_code == 202
    assert deleted.json()["status"] == "queued"
    await written_back(lambda: len(server.folders["Trash"].messages) == 1)
    moved = (await client.get(f"/api/messages/{target['id']}", headers=auth)).json()
    assert moved["mailbox_id"] == boxes["Trash"]["id"]
    assert 1 not in server.folders["INBOX"].messages
    assert len(server.folders["Trash"].messages) == 1
    assert (await client.delete(f"/api/messages/{target['id']}", headers=auth)).status_code == 202
    await written_back(lambda: not server.folders["Trash"].messages)
    assert (await client.get(f"/api/messages/{target['id']}", headers=auth)).status_code == 404
    assert server.folders["Trash"].messages == {}

    other = next(m for m in first if m["subject"] != "first")
    answer = await client.post(
        f"/api/messages/{other['id']}/move", json={"mailbox_id": boxes["Trash"]["id"]}, headers=auth
    )
    assert answer.status_code == 202
    await written_back(lambda: len(server.folders["Trash"].messages) == 1)
    assert (await client.get(f"/api/messages/{other['id']}", headers=auth)).json()["mailbox_id"] == boxes["Trash"]["id"]


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("GET", "/api/sync/search?limit=0", None, "limit"),
        ("GET", "/api/sync/search?limit=201", None, "limit"),
        ("GET", "/api/sync/search?cursor=not-a-cursor", None, "cursor"),
        ("GET", "/api/sync/search?since=yesterday", None, "since"),
        ("GET", "/api/sync/search?unread=maybe", None, "unread"),
        ("GET", "/api/sync/search?since=2026-02-01T00:00:00Z&before=2026-01-01T00:00:00Z", None, "since"),
        ("PATCH", "/api/messages/{id}", {}, "seen"),
        ("PATCH", "/api/messages/{id}", {"seen": None}, "seen"),
        ("PATCH", "/api/messages/{id}", {"seen": True, "uid": 5}, "uid"),
        ("POST", "/api/messages/{id}/move", {"mailbox_id": "nope"}, "mailbox_id"),
    ],
)
async def test_bad_input_is_a_problem_and_changes_nothing(
    client: AsyncTestClient[Litestar], synced: dict[str, Any], method: str, path: str, body: Any, field: str
) -> None:
    auth = synced["auth"]
    before = (await client.get("/api/sync/search", headers=auth)).json()
    answer = await client.request(method, path.replace("{id}", before["items"][0]["id"]), json=body, headers=auth)
    assert answer.status_code in (400, 422), answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert field in answer.text
    assert (await client.get("/api/sync/search", headers=auth)).json() == before


async def test_a_relevance_cursor_is_refused_for_a_date_ordered_list(
    client: AsyncTestClient[Litestar], synced: dict[str, Any]
) -> None:
    auth = synced["auth"]
    page = (
        await client.get("/api/sync/search", params={"q": "first OR fwd OR reply", "limit": 1}, headers=auth)
    ).json()
    answer = await client.get("/api/sync/search", params={"cursor": page["next_cursor"]}, headers=auth)
    assert answer.status_code == 422
    assert "another ordering" in answer.text


async def test_a_folder_of_another_account_is_not_found(
    client: AsyncTestClient[Litestar], synced: dict[str, Any], login: Login
) -> None:
    auth = synced["auth"]
    other = (await client.post("/api/accounts", json=account_body("other@example.com"), headers=auth)).json()
    inbox = synced["boxes"]["INBOX"]["id"]
    answer = await client.get(f"/api/accounts/{other['id']}/messages", params={"mailbox": inbox}, headers=auth)
    assert answer.status_code == 404


@pytest.mark.parametrize(
    "q", ["'; DROP TABLE messages; --", '"', "a\x00b\x1f", "x" * 10_000, "🙂 first", "-", "OR", "%_\\"], ids=range(8)
)
async def test_any_search_string_answers_200(client: AsyncTestClient[Litestar], synced: dict[str, Any], q: str) -> None:
    answer = await client.get(
        "/api/sync/search", params={"q": q, "from": q, "to": q, "subject": q}, headers=synced["auth"]
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["items"] == []
    assert (await client.get("/api/sync/search", params={"q": q}, headers=synced["auth"])).status_code == 200


async def test_a_raw_message_whose_blob_is_gone_is_a_404_problem(
    app: Litestar, client: AsyncTestClient[Litestar], synced: dict[str, Any]
) -> None:
    blobs = await app.state.dishka_container.get(BlobStore)
    item = (await client.get("/api/sync/search", params={"subject": "fwd"}, headers=synced["auth"])).json()["items"][0]
    message = (await client.get(f"/api/messages/{item['id']}", headers=synced["auth"])).json()
    for key in list(blobs.blobs):  # type: ignore[attr-defined]
        await blobs.delete(key)
    answer = await client.get(f"/api/messages/{message['id']}/raw", headers=synced["auth"])
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"
