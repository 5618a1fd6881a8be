"""OAuth2 logins on the real servers: Dovecot's oauth2 passdb takes `AUTHENTICATE XOAUTH2` and `OAUTHBEARER`
(RFC 7628) over IMAP, and Postfix takes `AUTH XOAUTH2` through Dovecot's SASL, with an access token the tests'
authorization server calls active; an expired token, or one whose grant was revoked, is refused. Password logins
and delivery go on beside them (the other Dovecot tests)."""

import asyncio
import imaplib
import smtplib
import ssl
from email.message import EmailMessage
from uuid import uuid4

import pytest

from adapters.imap.connection import _connect, close_imap
from adapters.imap.sasl import authenticate
from adapters.network import OutboundPolicy
from domain.accounts import Security, ServerSettings
from tests.conftest import mail_server_settings
from tests.oauth.server import serving

USER = "carol"


def xoauth2(username: str, token: str) -> bytes:
    """The XOAUTH2 initial response (Google's and Microsoft's format)."""
    return f"user={username}\x01auth=Bearer {token}\x01\x01".encode()


def oauthbearer(username: str, token: str) -> bytes:
    """RFC 7628 section 3.1: a GS2 header naming the user, then the bearer token."""
    return f"n,a={username},\x01auth=Bearer {token}\x01\x01".encode()


def imap_login(mail: dict[str, str], mechanism: str, response: bytes) -> tuple[bool, int]:
    """Whether the IMAP login succeeded, and how many messages the INBOX holds then."""
    client = imaplib.IMAP4(mail["MAILROOM_TEST_MAIL_HOST"], int(mail["MAILROOM_TEST_IMAP_PORT"]))
    try:
        # The first (empty) challenge takes the response; a failure comes as a second challenge, the error in
        # JSON, which the client answers with an empty line (RFC 7628 section 3.2.3, and XOAUTH2 alike).
        client.authenticate(mechanism, lambda challenge: b"" if challenge else response)
    except imaplib.IMAP4.error:
        client.shutdown()
        return False, -1
    _, count = client.select("INBOX", readonly=True)
    client.logout()
    return True, int(count[0] or 0)


@pytest.fixture
def mail() -> dict[str, str]:
    settings = mail_server_settings()
    if "MAILROOM_TEST_OAUTH_INTROSPECTION_PORT" not in settings:
        pytest.fail("the mail servers were started by an older deploy/local/mailservers.sh: start them again")
    return settings


async def test_an_active_access_token_logs_in_over_imap_and_a_revoked_or_expired_one_does_not(
    mail: dict[str, str],
) -> None:
    username = f"{USER}@{mail['MAILROOM_TEST_MAIL_DOMAIN']}"
    async with serving(int(mail["MAILROOM_TEST_OAUTH_INTROSPECTION_PORT"])) as server:
        grant = server.grant(username)
        token = server.access_token(grant)
        ok, _ = await asyncio.to_thread(imap_login, mail, "XOAUTH2", xoauth2(username, token))
        assert ok
        ok, _ = await asyncio.to_thread(imap_login, mail, "OAUTHBEARER", oauthbearer(username, token))
        assert ok
        assert server.introspections >= 2, "Dovecot asked the authorization server each time"

        expired = server.access_token(grant, lifetime=0)
        assert (await asyncio.to_thread(imap_login, mail, "XOAUTH2", xoauth2(username, expired)))[0] is False
        other = f"alice@{mail['MAILROOM_TEST_MAIL_DOMAIN']}"
        assert (await asyncio.to_thread(imap_login, mail, "XOAUTH2", xoauth2(other, token)))[0] is False, (
            "a token is good for its own user only"
        )
        server.revoke(grant)
        assert (await asyncio.to_thread(imap_login, mail, "XOAUTH2", xoauth2(username, token)))[0] is False


def submit(mail: dict[str, str], username: str, token: str, subject: str) -> None:
    port = int(mail["MAILROOM_TEST_SUBMISSION_PORT"])
    context = ssl.create_default_context(cafile=mail["MAILROOM_TEST_MAIL_CA_FILE"])
    with smtplib.SMTP(mail["MAILROOM_TEST_MAIL_HOST"], port, timeout=10) as smtp:
        smtp.starttls(context=context)
        smtp.ehlo()
        smtp.auth(
            "XOAUTH2",
            lambda challenge=None: "" if challenge else xoauth2(username, token).decode(),
            initial_response_ok=True,
        )
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = username, username, subject
        message.set_content("sent with an OAuth2 access token")
        smtp.send_message(message)


async def test_postfix_takes_auth_xoauth2_through_dovecot_and_the_mail_arrives(mail: dict[str, str]) -> None:
    username = f"{USER}@{mail['MAILROOM_TEST_MAIL_DOMAIN']}"
    async with serving(int(mail["MAILROOM_TEST_OAUTH_INTROSPECTION_PORT"])) as server:
        grant = server.grant(username)
        token = server.access_token(grant)
        _, before = await asyncio.to_thread(imap_login, mail, "XOAUTH2", xoauth2(username, token))
        await asyncio.to_thread(submit, mail, username, token, f"oauth {uuid4().hex[:8]}")
        for _ in range(100):
            _, count = await asyncio.to_thread(imap_login, mail, "XOAUTH2", xoauth2(username, token))
            if count == before + 1:
                break
            await asyncio.sleep(0.1)
        assert count == before + 1, "delivered to the INBOX"

        server.revoke(grant)
        with pytest.raises(smtplib.SMTPAuthenticationError):
            await asyncio.to_thread(submit, mail, username, token, "refused")


@pytest.mark.parametrize("mechanism", ["XOAUTH2", "OAUTHBEARER"])
async def test_mailrooms_own_authenticate_takes_both_mechanisms_and_hears_a_refusal(
    mail: dict[str, str], mechanism: str
) -> None:
    """adapters/imap/sasl.py on the real Dovecot: an active token logs in; a revoked one is refused with the
    server's NO, which comes only after the client answered the error challenge (else the command would wait out
    its timeout and fail as a TimeoutError, not a refusal)."""
    username = f"{USER}@{mail['MAILROOM_TEST_MAIL_DOMAIN']}"
    policy = OutboundPolicy(allow_private=True, timeout=10, ca_file=mail["MAILROOM_TEST_MAIL_CA_FILE"])
    server = ServerSettings(
        mail["MAILROOM_TEST_MAIL_HOST"], int(mail["MAILROOM_TEST_IMAP_PORT"]), Security.STARTTLS, username
    )
    async with serving(int(mail["MAILROOM_TEST_OAUTH_INTROSPECTION_PORT"])) as authorization:
        grant = authorization.grant(username)
        token = authorization.access_token(grant)
        client = await _connect(server, policy)
        answer = await authenticate(client, username, token, 10, mechanism)
        assert answer.result == "OK", answer.lines
        assert client.protocol.state == "AUTH"
        await close_imap(client)

        authorization.revoke(grant)
        client = await _connect(server, policy)
        refused = await authenticate(client, username, token, 10, mechanism)
        assert refused.result == "NO"
        await close_imap(client)
