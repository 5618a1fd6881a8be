"""Mail delivered by Postfix and Dovecot's LMTP reaches the API through IDLE, with no sync requested; mail another
client files in another folder too, through NOTIFY (RFC 5465)."""

import asyncio
import imaplib
import smtplib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email.message import EmailMessage
from pathlib import Path
from uuid import uuid4

from dishka import Provider, Scope, provide
from litestar import Litestar
from litestar.testing import AsyncTestClient

from adapters.imap.session import AioimaplibConnector
from adapters.network import OutboundPolicy
from application.users.register import NewUser, RegisterUser
from domain.ports.mail import ImapConnector
from entrypoints.http.app import create_app
from entrypoints.ioc import MemoryProvider
from entrypoints.settings import load_settings
from tests.conftest import mail_server_settings
from tests.e2e.conftest import PASSWORD
from tests.e2e.test_inbox_watch import inbox_count
from tests.integration.test_api_on_postgres import UNLIMITED

SLOW_ROUNDS = {"MAILROOM_IDLE_REFRESH_SECONDS": "60", "MAILROOM_WATCH_LEASE_SECONDS": "200"}
"""The watch pool looks again only every minute: a watch that failed and was started again (which syncs on
connecting) cannot pass for IDLE or NOTIFY within the tests' 5 s."""


class RealImapSessions(Provider):
    """On top of the fakes: the real IMAP sessions, so the watch IDLEs on the real Dovecot."""

    @provide(scope=Scope.APP, override=True)
    def sessions(self, policy: OutboundPolicy) -> ImapConnector:
        return AioimaplibConnector(policy)


@asynccontextmanager
async def watched(
    tmp_path: Path, mail: dict[str, str], user: str
) -> AsyncIterator[tuple[AsyncTestClient[Litestar], dict[str, str], str]]:
    """The app on the fakes but for real IMAP sessions, a user logged in, and an account for `user` on the local
    Dovecot, which the app watches from its creation: (client, auth header, account id)."""
    settings = load_settings({"MAILROOM_DATA_DIR": str(tmp_path), **SLOW_ROUNDS, **UNLIMITED})
    app: Litestar = create_app(MemoryProvider(), RealImapSessions(), settings=settings)
    async with AsyncTestClient(app) as client:
        async with app.state.dishka_container() as container:
            await (await container.get(RegisterUser))(NewUser("acme", "a@acme.test", PASSWORD))
        login = {"tenant": "acme", "email": "a@acme.test", "password": PASSWORD}
        auth = {"Authorization": f"Bearer {(await client.post('/api/auth/login', json=login)).json()['access_token']}"}
        server = {"host": mail["MAILROOM_TEST_MAIL_HOST"], "port": int(mail["MAILROOM_TEST_IMAP_PORT"])}
        login_data = {"security": "none", "username": f"{user}@example.test", "password": f"{user}-password-1"}
        body = {"name": user, "email": f"{user}@example.test", "imap": server | login_data, "smtp": server | login_data}
        yield client, auth, (await client.post("/api/accounts", json=body, headers=auth)).json()["id"]


def send(mail: dict[str, str], subject: str) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "alice@example.test", "bob@example.test", subject
    message.set_content("hello over IDLE")
    with smtplib.SMTP(mail["MAILROOM_TEST_MAIL_HOST"], int(mail["MAILROOM_TEST_SMTP_PORT"]), timeout=10) as smtp:
        smtp.send_message(message)


async def test_a_delivered_message_appears_within_5_seconds(tmp_path: Path) -> None:
    mail = mail_server_settings()
    async with watched(tmp_path, mail, "bob") as (client, auth, account_id):
        before = -1
        for _ in range(200):
            status = (await client.get(f"/api/sync/status/{account_id}", headers=auth)).json()
            if status["state"] == "idle" and status["finished_at"]:
                before = await inbox_count(client, account_id, auth)
                break
            await asyncio.sleep(0.05)
        assert before >= 0, "the first sync did not finish"
        await asyncio.sleep(0.5)

        sent_at = time.monotonic()
        send(mail, f"idle {uuid4().hex[:8]}")
        while await inbox_count(client, account_id, auth) != before + 1:
            if time.monotonic() - sent_at >= 5:
                status = (await client.get(f"/api/sync/status/{account_id}", headers=auth)).json()
                raise AssertionError(f"the message did not appear within 5 s; sync status: {status}")
            await asyncio.sleep(0.05)


async def folder_count(client: AsyncTestClient[Litestar], account_id: str, auth: dict[str, str], name: str) -> int:
    folders = (await client.get(f"/api/sync/status/{account_id}", headers=auth)).json()["folders"]
    return next((f["message_count"] for f in folders if f["name"] == name), -1)


async def test_mail_another_client_files_in_another_folder_appears_through_notify(tmp_path: Path) -> None:
    mail = mail_server_settings()
    async with watched(tmp_path, mail, "dave") as (client, auth, account_id):
        before = -1
        for _ in range(200):
            before = await folder_count(client, account_id, auth, "Archive")
            if before >= 0:
                break
            await asyncio.sleep(0.05)
        assert before >= 0, "the first sync did not finish"
        await asyncio.sleep(0.5)

        other = imaplib.IMAP4(mail["MAILROOM_TEST_MAIL_HOST"], int(mail["MAILROOM_TEST_IMAP_PORT"]))
        other.login("dave@example.test", "dave-password-1")
        filed_at = time.monotonic()
        other.append("Archive", "", imaplib.Time2Internaldate(time.time()), b"Subject: filed\r\n\r\nby a rule\r\n")
        other.logout()
        while await folder_count(client, account_id, auth, "Archive") != before + 1:
            assert time.monotonic() - filed_at < 5, "the message filed in Archive did not appear within 5 s"
            await asyncio.sleep(0.05)
