"""A hostile sender cannot make list pages huge: summaries carry bounded subjects and address lists, with the
totals, while the message itself keeps every value (audit finding: one 1.36 MB message made each page 1.7 MB)."""

from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from adapters.memory.imap import FakeImapServer
from domain.messages import SUMMARY_ADDRESSES, SUMMARY_SUBJECT_CHARS
from tests.e2e.conftest import Login, account_body
from tests.e2e.test_sync_api import wait_for_idle
from tests.unit import mail_corpus

RECIPIENTS = 20_000


async def test_a_message_with_20000_recipients_and_a_1_mb_subject_keeps_list_pages_small(
    app: Litestar, client: AsyncTestClient[Litestar], login: Login
) -> None:
    server = await app.state.dishka_container.get(FakeImapServer)
    to = b",\r\n ".join(b"r%d@example.com" % i for i in range(RECIPIENTS))
    subject = b"x" * 1_000_000
    server.deliver("INBOX", mail_corpus.plain(To=to, Subject=subject, Message_ID=b"<big@example.com>"))
    server.deliver("INBOX", mail_corpus.plain(Subject=b"small", Message_ID=b"<small@example.com>"))
    auth = await login()
    account = (await client.post("/api/accounts", json=account_body(), headers=auth)).json()
    await client.post(f"/api/sync/imap/{account['id']}", headers=auth)
    await wait_for_idle(client, account["id"], auth)

    page = await client.get(f"/api/accounts/{account['id']}/messages", headers=auth)
    assert page.status_code == 200
    assert len(page.content) < 20_000
    big: dict[str, Any] = next(m for m in page.json()["items"] if m["subject"].startswith("x"))
    assert len(big["subject"]) == SUMMARY_SUBJECT_CHARS
    assert (len(big["to"]), big["to_total"]) == (SUMMARY_ADDRESSES, RECIPIENTS)
    assert (len(big["from"]), big["from_total"]) == (1, 1)
    small = next(m for m in page.json()["items"] if m["subject"] == "small")
    assert (small["to"], small["to_total"]) == ([{"name": "", "address": "bob@example.com"}], 1)

    found = await client.get("/api/sync/search", params={"subject": "xxx"}, headers=auth)
    assert len(found.content) < 20_000

    whole = (await client.get(f"/api/messages/{big['id']}", headers=auth)).json()
    assert len(whole["to"]) == RECIPIENTS
    assert len(whole["subject"]) == len(subject)
