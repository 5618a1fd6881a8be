"""The whole way out on the production wiring (Postgres, in-process jobs) and real servers: a draft composed
over HTTP is sent through Postfix (submission, STARTTLS, AUTH), delivered by Dovecot's LMTP to another mailbox,
read back over IMAP as the recipient would, and filed in the sender's Sent folder."""

import asyncio
import base64
import email
import imaplib
import logging
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from entrypoints.logs import JsonFormatter
from tests.conftest import mail_server_settings
from tests.e2e.conftest import PASSWORD
from tests.integration.test_api_on_postgres import bearer, client, extra_settings, settings

__all__ = ["client", "extra_settings", "settings"]  # fixtures used here

SENDER, RECIPIENT, BLIND = "erin", "frank", "carol"
PDF = b"%PDF-1.4\n\x00\x01\x02\xff binary \r\n.\r\n bytes"


@pytest.fixture(scope="module")
def mail() -> dict[str, str]:
    return mail_server_settings()


def mailbox(mail: dict[str, str], user: str, folder: str) -> Iterator[imaplib.IMAP4]:
    imap = imaplib.IMAP4(mail["MAILROOM_TEST_MAIL_HOST"], int(mail["MAILROOM_TEST_IMAP_PORT"]))
    imap.login(f"{user}@{mail['MAILROOM_TEST_MAIL_DOMAIN']}", f"{user}-password-1")
    _, count = imap.select(folder)
    if count[0] != b"0":
        imap.store("1:*", "+FLAGS.SILENT", r"(\Deleted)")
        imap.expunge()
    yield imap
    imap.logout()


@pytest.fixture
def inbox(mail: dict[str, str]) -> Iterator[imaplib.IMAP4]:
    yield from mailbox(mail, RECIPIENT, "INBOX")


@pytest.fixture
def blind_inbox(mail: dict[str, str]) -> Iterator[imaplib.IMAP4]:
    yield from mailbox(mail, BLIND, "INBOX")


@pytest.fixture
def sent_folder(mail: dict[str, str]) -> Iterator[imaplib.IMAP4]:
    yield from mailbox(mail, SENDER, "Sent")


async def messages_in(imap: imaplib.IMAP4, folder: str, seconds: float = 15) -> list[tuple[bytes, bytes]]:
    """(flags, raw) of each message of `folder`, once there is at least one."""
    for _ in range(int(seconds / 0.2)):
        _, count = imap.select(folder, readonly=True)
        if count[0] != b"0":
            _, data = imap.fetch("1:*", "(FLAGS BODY.PEEK[])")
            return [(item[0], item[1]) for item in data if isinstance(item, tuple)]
        await asyncio.sleep(0.2)
    raise AssertionError(f"nothing arrived in {folder}")


def account_body(mail: dict[str, str], smtp_port: str, security: str) -> dict[str, Any]:
    host, domain = mail["MAILROOM_TEST_MAIL_HOST"], mail["MAILROOM_TEST_MAIL_DOMAIN"]
    login = {"username": f"{SENDER}@{domain}", "password": f"{SENDER}-password-1"}
    return {
        "name": "Erin Ørsted",
        "email": f"{SENDER}@{domain}",
        "imap": {"host": host, "port": int(mail["MAILROOM_TEST_IMAP_PORT"]), "security": "starttls"} | login,
        "smtp": {"host": host, "port": int(mail[smtp_port]), "security": security} | login,
    }


@pytest.mark.parametrize("extra_settings", [{"MAILROOM_MAIL_CA_FILE": "from-mail-fixture"}], indirect=True)
@pytest.mark.parametrize(
    ("smtp_port", "security"),
    [
        ("MAILROOM_TEST_SUBMISSION_PORT", "starttls"),
        ("MAILROOM_TEST_SMTPS_PORT", "ssl"),
        ("MAILROOM_TEST_SMTP_PORT", "none"),
    ],
)
async def test_a_draft_goes_through_postfix_to_another_mailbox_and_into_sent(
    client: AsyncTestClient[Litestar],
    mail: dict[str, str],
    inbox: imaplib.IMAP4,
    blind_inbox: imaplib.IMAP4,
    sent_folder: imaplib.IMAP4,
    smtp_port: str,
    security: str,
) -> None:
    auth = await bearer(client, "acme", "alice@acme.test")
    body = account_body(mail, smtp_port, security)
    account = (await client.post("/api/accounts", json=body, headers=auth)).json()
    recipient = f"{RECIPIENT}@{mail['MAILROOM_TEST_MAIL_DOMAIN']}"
    blind = f"{BLIND}@{mail['MAILROOM_TEST_MAIL_DOMAIN']}"
    draft = await client.post(
        "/api/compose",
        json={
            "account_id": account["id"],
            "to": [{"name": "Frank Ünal", "address": recipient}],
            "bcc": [{"name": "Carol Čapek", "address": blind}],
            "subject": "Grüße aus Köln — 会議 ✓",
            "text": "Hallo Frank,\nanbei der Bericht.\n.\nBis bald",
            "html": "<p>Hallo Frank,</p><p>anbei der <b>Bericht</b>.</p>",
            "attachments": [
                {
                    "filename": "Bericht März.pdf",
                    "content_type": "application/pdf",
                    "content_base64": base64.b64encode(PDF).decode(),
                }
            ],
        },
        headers=auth,
    )
    assert draft.status_code == 201, draft.text
    draft_id = draft.json()["id"]
    queued = await client.post(f"/api/compose/{draft_id}/send", headers=auth)
    assert queued.status_code == 202, queued.text
    assert queued.json()["status"] == "queued"

    shown: dict[str, Any] = {}
    for _ in range(100):
        shown = (await client.get(f"/api/compose/{draft_id}", headers=auth)).json()
        if shown["status"] in ("sent", "failed"):
            break
        await asyncio.sleep(0.1)
    assert shown["status"] == "sent", shown
    assert shown["attempts"] == 1
    assert shown["last_smtp_reply"].startswith("250")

    [(_, raw)] = await messages_in(inbox, "INBOX")
    received = email.message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=policy.default)
    assert isinstance(received, EmailMessage)
    assert received["Subject"] == "Grüße aus Köln — 会議 ✓"
    assert received["Message-ID"] == shown["message_id"]
    assert str(received["From"]) == f"Erin Ørsted <{SENDER}@{mail['MAILROOM_TEST_MAIL_DOMAIN']}>"
    text = received.get_body(("plain",))
    html = received.get_body(("html",))
    assert text is not None
    assert html is not None
    assert text.get_content() == "Hallo Frank,\nanbei der Bericht.\n.\nBis bald\n"
    assert html.get_content() == "<p>Hallo Frank,</p><p>anbei der <b>Bericht</b>.</p>\n"
    [attachment] = list(received.iter_attachments())
    assert attachment.get_filename() == "Bericht März.pdf"
    assert attachment.get_content() == PDF
    assert received["Bcc"] is None
    assert blind.encode() not in raw

    [(_, blind_raw)] = await messages_in(blind_inbox, "INBOX")
    blind_copy = email.message_from_bytes(blind_raw, policy=policy.default)
    assert (blind_copy["Message-ID"], blind_copy["Bcc"]) == (shown["message_id"], None)

    [(flags, copy)] = await messages_in(sent_folder, "Sent")
    assert b"\\Seen" in flags
    filed = email.message_from_bytes(copy, policy=policy.default)
    assert filed["Message-ID"] == shown["message_id"]
    assert str(filed["Bcc"]) == f"Carol Čapek <{blind}>", "the sender's copy alone names the Bcc recipient"

    for _ in range(100):  # the send asked for a sync, which brings the copy into the store
        listed = await client.get(f"/api/accounts/{account['id']}/mailboxes", headers=auth)
        assert listed.status_code == 200, listed.text
        boxes = listed.json()["items"]
        if any(b["role"] == "sent" and b["total"] == 1 for b in boxes):
            break
        await asyncio.sleep(0.1)
    assert any(b["role"] == "sent" and b["total"] == 1 for b in boxes), boxes


@pytest.mark.parametrize("extra_settings", [{"MAILROOM_MAIL_CA_FILE": "from-mail-fixture"}], indirect=True)
async def test_no_password_token_or_body_reaches_the_logs(
    client: AsyncTestClient[Litestar],
    mail: dict[str, str],
    inbox: imaplib.IMAP4,
    sent_folder: imaplib.IMAP4,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Everything at DEBUG, over login, an account created with its passwords, a sync and a send."""
    caplog.set_level(logging.DEBUG)
    auth = await bearer(client, "acme", "alice@acme.test")
    body = account_body(mail, "MAILROOM_TEST_SUBMISSION_PORT", "starttls")
    account = (await client.post("/api/accounts", json=body, headers=auth)).json()
    await client.post(f"/api/sync/imap/{account['id']}", headers=auth)
    secret_text = "Geheimer Inhalt 4711: nur für Frank"
    recipient = f"{RECIPIENT}@{mail['MAILROOM_TEST_MAIL_DOMAIN']}"
    draft = (
        await client.post(
            "/api/compose",
            json={"account_id": account["id"], "to": [recipient], "subject": "Log check", "text": secret_text},
            headers=auth,
        )
    ).json()
    await client.post(f"/api/compose/{draft['id']}/send", headers=auth)
    await messages_in(inbox, "INBOX")
    for _ in range(100):
        status = (await client.get(f"/api/sync/status/{account['id']}", headers=auth)).json()
        if status["state"] not in ("queued", "running"):
            break
        await asyncio.sleep(0.1)

    formatter = JsonFormatter()
    logged = caplog.text + "\n".join(formatter.format(record) for record in caplog.records)
    assert len(caplog.records) > 20
    token = auth["Authorization"].removeprefix("Bearer ")
    for secret in (PASSWORD, f"{SENDER}-password-1", token, token.split(".")[2], secret_text, "Geheimer"):
        assert secret not in logged
