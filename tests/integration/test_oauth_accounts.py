"""OAuth2 sign-in on the production wiring (Postgres, in-process jobs) against the real Dovecot and Postfix, which
take an access token when the tests' authorization server (tests/oauth/server.py, where Dovecot's oauth2 passdb
asks) calls it active: the consent run by Mailroom, then a sync, a read and a send; renewal before expiry and after
a refusal; a revoked grant (reauth_required, one event, no retry storm); two workers renewing at once; no token in
the logs."""

import asyncio
import imaplib
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, urlsplit
from uuid import UUID, uuid4

import aiohttp
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from adapters.crypto.aes_gcm_cipher import AesGcmCredentialCipher
from adapters.oauth.providers import HttpOAuthProviders
from adapters.persistence.database import create_engine, create_session_factory
from adapters.persistence.tenant_scope import RowLevelTenantScope
from adapters.persistence.unit_of_work import SqlUnitOfWork
from adapters.system_clock import SystemClock
from application.accounts.logins import REAUTH_REQUIRED, MailLogins
from entrypoints.logs import JsonFormatter
from entrypoints.settings import Settings
from tests.conftest import mail_server_settings
from tests.integration.test_api_on_postgres import bearer, client, settings
from tests.oauth.server import AuthorizationServer, serving_apart

__all__ = ["client", "settings"]  # fixtures used here

SENDER, RECIPIENT = "oscar", "petra"
APP = "https://app.example"


@pytest.fixture(scope="module")
def mail() -> dict[str, str]:
    found = mail_server_settings()
    if "MAILROOM_TEST_OAUTH_INTROSPECTION_PORT" not in found or "oscar" not in found.get(
        "MAILROOM_TEST_MAIL_USERS", ""
    ):
        pytest.fail("the mail servers were started by an older deploy/local/mailservers.sh: start them again")
    return found


@pytest.fixture
def authorization(mail: dict[str, str]) -> Iterator[AuthorizationServer]:
    with serving_apart(int(mail["MAILROOM_TEST_OAUTH_INTROSPECTION_PORT"])) as server:
        yield server


@pytest.fixture
def extra_settings(mail: dict[str, str]) -> dict[str, str]:
    """A generic provider, `local`: the tests' authorization server, and the test mail servers as its mailboxes."""
    base = f"http://127.0.0.1:{mail['MAILROOM_TEST_OAUTH_INTROSPECTION_PORT']}"
    host = mail["MAILROOM_TEST_MAIL_HOST"]
    return {
        "MAILROOM_MAIL_CA_FILE": mail["MAILROOM_TEST_MAIL_CA_FILE"],
        "MAILROOM_OAUTH_PROVIDERS": "local",
        "MAILROOM_OAUTH_REDIRECT_ORIGINS": APP,
        "MAILROOM_OAUTH_LOCAL_CLIENT_ID": "mailroom-test",
        "MAILROOM_OAUTH_LOCAL_CLIENT_SECRET": "mailroom-test-secret",
        "MAILROOM_OAUTH_LOCAL_AUTHORIZE_URL": f"{base}/authorize",
        "MAILROOM_OAUTH_LOCAL_TOKEN_URL": f"{base}/token",
        "MAILROOM_OAUTH_LOCAL_SCOPES": "mail openid email",
        "MAILROOM_OAUTH_LOCAL_IMAP_HOST": host,
        "MAILROOM_OAUTH_LOCAL_IMAP_PORT": mail["MAILROOM_TEST_IMAP_PORT"],
        "MAILROOM_OAUTH_LOCAL_IMAP_SECURITY": "starttls",
        "MAILROOM_OAUTH_LOCAL_SMTP_HOST": host,
        "MAILROOM_OAUTH_LOCAL_SMTP_PORT": mail["MAILROOM_TEST_SUBMISSION_PORT"],
        "MAILROOM_OAUTH_LOCAL_SMTP_SECURITY": "starttls",
    }


def address(mail: dict[str, str], user: str) -> str:
    return f"{user}@{mail['MAILROOM_TEST_MAIL_DOMAIN']}"


def emptied_inbox(mail: dict[str, str], user: str) -> imaplib.IMAP4:
    imap = imaplib.IMAP4(mail["MAILROOM_TEST_MAIL_HOST"], int(mail["MAILROOM_TEST_IMAP_PORT"]))
    imap.login(address(mail, user), f"{user}-password-1")
    _, count = imap.select("INBOX")
    if count[0] != b"0":
        imap.store("1:*", "+FLAGS.SILENT", r"(\Deleted)")
        imap.expunge()
    return imap


def deliver(imap: imaplib.IMAP4, subject: str) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "someone@example.test", "oscar@example.test", subject
    message.set_content("kept in the store")
    imap.append("INBOX", "", imaplib.Time2Internaldate(time.time()), message.as_bytes())


async def sync(client: AsyncTestClient[Litestar], auth: dict[str, str], account_id: str) -> dict[str, Any]:
    queued = await client.post(f"/api/sync/imap/{account_id}", headers=auth)
    assert queued.status_code in (200, 202), queued.text
    status: dict[str, Any] = {}
    for _ in range(200):
        status = (await client.get(f"/api/sync/status/{account_id}", headers=auth)).json()
        if status["state"] not in ("queued", "running"):
            return status
        await asyncio.sleep(0.05)
    raise AssertionError(f"the sync did not end: {status}")


async def consent(
    client: AsyncTestClient[Litestar], auth: dict[str, str], server: AuthorizationServer, email: str
) -> str:
    """The user's app starts the sign-in, the browser follows the provider (which consents as `email`) back to
    Mailroom's callback, and lands on the app with the account id."""
    started = await client.post(
        "/api/oauth/local/start",
        json={"name": "OAuth mailbox", "email": email, "redirect_after": f"{APP}/done?from=test"},
        headers=auth,
    )
    assert started.status_code == 200, started.text
    async with (
        aiohttp.ClientSession() as browser,
        browser.get(started.json()["authorization_url"], allow_redirects=False) as answer,
    ):
        assert answer.status == 302, await answer.text()
        back = urlsplit(answer.headers["Location"])
    assert server.last_authorize["code_challenge_method"] == "S256"
    assert server.last_authorize["login_hint"] == email
    assert back.path == "/api/oauth/local/callback"
    assert parse_qs(back.query)["state"] == [started.json()["state"]]

    landed = await client.get(f"{back.path}?{back.query}", follow_redirects=False)
    assert landed.status_code == 303, landed.text
    target = urlsplit(landed.headers["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{APP}/done"
    query = parse_qs(target.query)
    assert "error" not in query, query
    assert query["from"] == ["test"], "the app's own query is kept"
    return query["account_id"][0]


async def test_a_mailbox_connected_by_signing_in_syncs_reads_and_sends(
    client: AsyncTestClient[Litestar],
    mail: dict[str, str],
    authorization: AuthorizationServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    auth = await bearer(client, "acme", "alice@acme.test")
    sender, recipient = address(mail, SENDER), address(mail, RECIPIENT)
    own, theirs = emptied_inbox(mail, SENDER), emptied_inbox(mail, RECIPIENT)
    subject = f"before the sign-in {uuid4().hex[:8]}"
    deliver(own, subject)
    authorization.consenting_user = sender

    account_id = await consent(client, auth, authorization, sender)
    account = (await client.get(f"/api/accounts/{account_id}", headers=auth)).json()
    assert account["email"] == sender
    assert (account["imap"]["auth"], account["smtp"]["auth"]) == ("oauth2", "oauth2")
    assert (account["imap"]["host"], account["imap"]["username"]) == (mail["MAILROOM_TEST_MAIL_HOST"], sender)
    assert account["oauth"]["provider"] == "local"
    assert account["oauth"]["reauth_required"] is False

    status = await sync(client, auth, account_id)
    assert status["state"] == "idle", status
    listed = (await client.get(f"/api/accounts/{account_id}/messages", headers=auth)).json()
    [found] = [m for m in listed["items"] if m["subject"] == subject]
    assert (await client.get(f"/api/messages/{found['id']}", headers=auth)).status_code == 200

    draft = await client.post(
        "/api/compose",
        json={"account_id": account_id, "to": [recipient], "subject": "sent with OAuth2", "text": "XOAUTH2 works"},
        headers=auth,
    )
    assert draft.status_code == 201, draft.text
    await client.post(f"/api/compose/{draft.json()['id']}/send", headers=auth)
    shown: dict[str, Any] = {}
    for _ in range(200):
        shown = (await client.get(f"/api/compose/{draft.json()['id']}", headers=auth)).json()
        if shown["status"] in ("sent", "failed"):
            break
        await asyncio.sleep(0.05)
    assert shown["status"] == "sent", shown
    for _ in range(100):
        _, count = theirs.select("INBOX")
        if count[0] != b"0":
            break
        await asyncio.sleep(0.1)
    assert count[0] == b"1", "delivered to the recipient"
    own.logout()
    theirs.logout()

    secrets = [*authorization.tokens, *authorization.refresh_tokens, *authorization.codes, "mailroom-test-secret"]
    assert len(secrets) >= 3
    formatter = JsonFormatter()
    # the test's own HTTP client (httpx) logs the addresses it asks for, the callback's code included: not Mailroom
    records = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    logged = "\n".join(f"{r.getMessage()} {formatter.format(r)}" for r in records)
    assert len(records) > 20
    for secret in secrets:
        assert secret not in logged
    page = (await client.get(f"/api/accounts/{account_id}", headers=auth)).text
    assert not any(secret in page for secret in secrets)


async def supplied_account(
    client: AsyncTestClient[Litestar],
    auth: dict[str, str],
    mail: dict[str, str],
    server: AuthorizationServer,
    *,
    expires_in: timedelta,
) -> tuple[str, str]:
    """An account whose app ran the consent itself and hands over the tokens: (account id, grant id)."""
    sender = address(mail, SENDER)
    grant = server.grant(sender)
    tokens = {
        "type": "oauth2",
        "provider": "local",
        "access_token": server.access_token(grant),
        "refresh_token": server.refresh_token(grant),
        "expires_at": (datetime.now(UTC) + expires_in).isoformat(),
    }
    host = mail["MAILROOM_TEST_MAIL_HOST"]
    body = {
        "name": "Supplied",
        "email": sender,
        "imap": {"host": host, "port": int(mail["MAILROOM_TEST_IMAP_PORT"]), "security": "starttls",
                 "username": sender, "auth": tokens},
        "smtp": {"host": host, "port": int(mail["MAILROOM_TEST_SUBMISSION_PORT"]), "security": "starttls",
                 "username": sender, "auth": tokens},
    }  # fmt: skip
    created = await client.post("/api/accounts", params={"verify": "true"}, json=body, headers=auth)
    assert created.status_code == 201, created.text
    assert tokens["access_token"] not in created.text
    return created.json()["id"], grant


async def test_a_token_about_to_expire_is_renewed_before_the_sync(
    client: AsyncTestClient[Litestar], mail: dict[str, str], authorization: AuthorizationServer
) -> None:
    auth = await bearer(client, "acme", "alice@acme.test")
    account_id, _ = await supplied_account(client, auth, mail, authorization, expires_in=timedelta(seconds=30))
    assert (await sync(client, auth, account_id))["state"] == "idle"
    assert authorization.refreshes == 1
    assert (await sync(client, auth, account_id))["state"] == "idle"
    assert authorization.refreshes == 1, "the renewed token lasts an hour"


async def test_a_token_the_server_refuses_is_renewed_and_tried_once_more(
    client: AsyncTestClient[Litestar], mail: dict[str, str], authorization: AuthorizationServer
) -> None:
    auth = await bearer(client, "acme", "alice@acme.test")
    account_id, grant = await supplied_account(client, auth, mail, authorization, expires_in=timedelta(hours=1))
    for token, (owner, _) in list(authorization.tokens.items()):
        if owner == grant:
            authorization.tokens[token] = (owner, 0.0)  # expired early, on the server's clock alone
    assert (await sync(client, auth, account_id))["state"] == "idle"
    assert authorization.refreshes == 1


async def test_a_revoked_grant_asks_for_a_new_sign_in_once_and_stops_trying(
    client: AsyncTestClient[Litestar], mail: dict[str, str], authorization: AuthorizationServer
) -> None:
    auth = await bearer(client, "acme", "alice@acme.test")
    account_id, grant = await supplied_account(client, auth, mail, authorization, expires_in=timedelta(hours=1))
    cursor = (await client.get("/api/changes", headers=auth)).json()["next_cursor"]  # the feed from now on
    authorization.revoke(grant)

    status = await sync(client, auth, account_id)
    assert status["state"] == "failed"
    assert status["reauth_required"] is True
    assert status["last_error"].startswith(REAUTH_REQUIRED)
    assert (await client.get(f"/api/accounts/{account_id}", headers=auth)).json()["oauth"]["reauth_required"]
    attempts = authorization.refresh_attempts
    assert attempts == 1
    for _ in range(3):
        await sync(client, auth, account_id)
    assert authorization.refresh_attempts == attempts, "no retry storm"
    changes = (
        await client.get("/api/changes", params={"since": cursor, "account_id": account_id}, headers=auth)
    ).json()
    errors = [c for c in changes["items"] if c["type"] == "account.error"]
    assert [e["data"]["reason"] for e in errors] == [REAUTH_REQUIRED]


async def test_two_workers_needing_a_renewal_at_once_make_one(
    client: AsyncTestClient[Litestar],
    settings: Settings,
    mail: dict[str, str],
    authorization: AuthorizationServer,
) -> None:
    auth = await bearer(client, "acme", "alice@acme.test")
    account_id, _ = await supplied_account(client, auth, mail, authorization, expires_in=timedelta(seconds=10))
    me = (await client.get("/api/me", headers=auth)).json()
    authorization.token_delay = 0.5  # the first renewal is still out when the second worker needs one
    engines = [create_engine(settings.database_url) for _ in range(2)]
    providers = [
        HttpOAuthProviders({c.name: c for c in settings.oauth}, settings.public_url) for _ in range(2)
    ]  # two workers: their own database pools and HTTP clients
    cipher = AesGcmCredentialCipher(settings.keyring())
    try:
        with RowLevelTenantScope()(UUID(me["tenant_id"])):
            logins = [
                MailLogins(SqlUnitOfWork(create_session_factory(e)), cipher, SystemClock(), p)
                for e, p in zip(engines, providers, strict=True)
            ]
            async with SqlUnitOfWork(create_session_factory(engines[0])) as uow:
                account = await uow.accounts.get(UUID(me["tenant_id"]), UUID(account_id))
            assert account is not None
            first, second = await asyncio.gather(*(each.imap(account) for each in logins))
    finally:
        for each in providers:
            await each.close()
        for engine in engines:
            await engine.dispose()
    assert first == second
    assert (authorization.refresh_attempts, authorization.refreshes) == (1, 1)
