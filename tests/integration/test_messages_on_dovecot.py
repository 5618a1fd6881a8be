"""The messages API on the production wiring (Postgres, in-process jobs) over mail synced from a real Dovecot;
flags, moves and deletes are checked with a separate IMAP client, as the user's phone would see them."""

import asyncio
import imaplib
import re
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import mail_server_settings
from tests.integration.test_api_on_postgres import bearer, client, extra_settings, settings

__all__ = ["client", "extra_settings", "settings"]  # fixtures used here

USER = "alice"


@pytest.fixture(scope="module")
def mail() -> dict[str, str]:
    return mail_server_settings()


@pytest.fixture
def phone(mail: dict[str, str]) -> Iterator[imaplib.IMAP4]:
    """Another IMAP client of the same mailbox, emptied first."""
    imap = imaplib.IMAP4(mail["MAILROOM_TEST_MAIL_HOST"], int(mail["MAILROOM_TEST_IMAP_PORT"]))
    imap.login(f"{USER}@{mail['MAILROOM_TEST_MAIL_DOMAIN']}", f"{USER}-password-1")
    for folder in ("INBOX", "Trash", "Archive"):
        _, count = imap.select(folder)
        if count[0] != b"0":
            imap.store("1:*", "+FLAGS.SILENT", r"(\Deleted)")
            imap.expunge()
    yield imap
    imap.logout()


def greeting() -> bytes:
    message = EmailMessage()
    message["From"] = "Zoë Müller <zoe@example.org>"
    message["To"] = f"{USER}@example.test"
    message["Subject"] = "Grüße aus Köln — 会議"
    message["Message-ID"] = "<greeting@example.org>"
    message.set_content("Schöne Grüße, déjà vu und bis bald.")
    return message.as_bytes().replace(b"\n", b"\r\n")


def with_attachment() -> bytes:
    message = EmailMessage()
    message["From"], message["Subject"] = "billing@example.org", "Rechnung März"
    message.set_content("Die Rechnung liegt bei.")
    message.add_attachment(b"%PDF-1.4 fake", maintype="application", subtype="pdf", filename="Rechnung März.pdf")
    return message.as_bytes().replace(b"\n", b"\r\n")


def reply() -> bytes:
    message = EmailMessage()
    message["From"], message["Subject"] = f"{USER}@example.test", "Re: Grüße aus Köln — 会議"
    message["In-Reply-To"] = message["References"] = "<greeting@example.org>"
    message.set_content("Danke!")
    return message.as_bytes().replace(b"\n", b"\r\n")


def flags_of(imap: imaplib.IMAP4, folder: str) -> dict[str, set[str]]:
    """Subject -> flags of every message of a folder, as another client sees them."""
    _, count = imap.select(folder, readonly=True)
    if count[0] == b"0":
        return {}
    _, data = imap.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID SUBJECT)])")
    found: dict[str, set[str]] = {}
    for item in data:
        if isinstance(item, tuple):
            flags = set(re.findall(rb"\\\w+", item[0].split(b"BODY")[0]))
            found[item[1].decode(errors="replace").strip()] = {f.decode() for f in flags}
    return found


async def eventually(check: Any, seconds: float = 10) -> None:
    for _ in range(int(seconds / 0.1)):
        if check():
            return
        await asyncio.sleep(0.1)
    assert check()


async def test_synced_mail_is_read_searched_and_changed_back_on_the_server(
    client: AsyncTestClient[Litestar], mail: dict[str, str], phone: imaplib.IMAP4
) -> None:
    raws = [greeting(), with_attachment(), reply()]
    for raw in raws:
        phone.append("INBOX", "", imaplib.Time2Internaldate(1_767_000_000), raw)
    auth = await bearer(client, "acme", "alice@acme.test")
    server = {"host": mail["MAILROOM_TEST_MAIL_HOST"], "port": int(mail["MAILROOM_TEST_IMAP_PORT"]), "security": "none"}
    login = {"username": f"{USER}@example.test", "password": f"{USER}-password-1"}
    account = (
        await client.post(
            "/api/accounts",
            json={"name": "Alice", "email": f"{USER}@example.test", "imap": server | login, "smtp": server | login},
            headers=auth,
        )
    ).json()
    await sync(client, account["id"], auth)

    boxes = {
        b["name"]: b
        for b in (await client.get(f"/api/accounts/{account['id']}/mailboxes", headers=auth)).json()["items"]
    }
    assert (boxes["INBOX"]["total"], boxes["INBOX"]["unread"], boxes["Trash"]["role"]) == (3, 3, "trash")
    listed = (await client.get(f"/api/accounts/{account['id']}/messages", headers=auth)).json()["items"]
    by_subject = {m["subject"]: m for m in listed}
    assert set(by_subject) == {"Grüße aus Köln — 会議", "Rechnung März", "Re: Grüße aus Köln — 会議"}

    hello = (await client.get(f"/api/messages/{by_subject['Grüße aus Köln — 会議']['id']}", headers=auth)).json()
    assert hello["from"] == [{"name": "Zoë Müller", "address": "zoe@example.org"}]
    assert hello["text"] == "Schöne Grüße, déjà vu und bis bald.\n"
    assert (await client.get(f"/api/messages/{hello['id']}/raw", headers=auth)).content == raws[0]
    thread = (await client.get(f"/api/threads/{hello['thread_id']}", headers=auth)).json()["items"]
    assert [m["subject"] for m in thread] == ["Grüße aus Köln — 会議", "Re: Grüße aus Köln — 会議"]
    for q in ("köln", "déjà", "会議", "zoe@example.org", '"bis bald"'):
        found = (await client.get("/api/sync/search", params={"q": q}, headers=auth)).json()["items"]
        assert hello["id"] in [m["id"] for m in found], q

    invoice = (await client.get(f"/api/messages/{by_subject['Rechnung März']['id']}", headers=auth)).json()
    pdf = invoice["attachments"][0]
    download = await client.get(f"/api/messages/{invoice['id']}/attachments/{pdf['id']}", headers=auth)
    assert download.content == b"%PDF-1.4 fake"
    assert "filename*=UTF-8''Rechnung%20M%C3%A4rz.pdf" in download.headers["content-disposition"]

    assert (
        await client.patch(f"/api/messages/{hello['id']}", json={"seen": True, "flagged": True}, headers=auth)
    ).status_code == 200
    await eventually(lambda: _flagged(phone))

    move = await client.post(
        f"/api/messages/{invoice['id']}/move", json={"mailbox_id": boxes["Archive"]["id"]}, headers=auth
    )
    assert move.status_code == 202
    await eventually(lambda: len(flags_of(phone, "Archive")) == 1 and len(flags_of(phone, "INBOX")) == 2)

    answer_id = by_subject["Re: Grüße aus Köln — 会議"]["id"]
    assert (await client.delete(f"/api/messages/{answer_id}", headers=auth)).status_code == 202
    await eventually(lambda: len(flags_of(phone, "Trash")) == 1 and len(flags_of(phone, "INBOX")) == 1)
    await eventually_api(client, auth, answer_id, boxes["Trash"]["id"])
    assert (await client.delete(f"/api/messages/{answer_id}", headers=auth)).status_code == 202
    await eventually(lambda: len(flags_of(phone, "Trash")) == 0)

    await sync(client, account["id"], auth)
    after = {
        b["name"]: b
        for b in (await client.get(f"/api/accounts/{account['id']}/mailboxes", headers=auth)).json()["items"]
    }
    assert [(after[n]["total"], after[n]["unread"]) for n in ("INBOX", "Archive", "Trash")] == [(1, 0), (1, 1), (0, 0)]
    moved = (await client.get(f"/api/messages/{invoice['id']}", headers=auth)).json()
    assert moved["mailbox_id"] == boxes["Archive"]["id"], "the moved message kept its id: no duplicate"


def _flagged(imap: imaplib.IMAP4) -> bool:
    return any({"\\Seen", "\\Flagged"} <= flags for flags in flags_of(imap, "INBOX").values())


async def eventually_api(
    client: AsyncTestClient[Litestar], auth: dict[str, str], message_id: str, mailbox_id: str
) -> None:
    for _ in range(100):
        if (await client.get(f"/api/messages/{message_id}", headers=auth)).json().get("mailbox_id") == mailbox_id:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the message did not reach the Trash in the store")


async def sync(client: AsyncTestClient[Litestar], account_id: str, auth: dict[str, str]) -> None:
    job = (await client.post(f"/api/sync/imap/{account_id}", headers=auth)).json()["job_id"]
    for _ in range(200):
        status = (await client.get(f"/api/sync/status/{account_id}", headers=auth)).json()
        if status["job_id"] == job and status["state"] in ("idle", "failed") and status["finished_at"]:
            assert status["state"] == "idle", status
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"sync did not finish: {status}")
