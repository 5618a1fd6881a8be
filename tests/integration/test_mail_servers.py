"""Login checks against the real Dovecot and Postfix started by deploy/local/mailservers.sh."""

import pytest

from adapters.imap.login_check import AioimaplibLoginCheck
from adapters.network import OutboundPolicy
from adapters.smtp.sender import SmtpMailSender
from domain.accounts import MailLogin, Security, ServerSettings
from domain.errors import ConnectionFailed, MailServerRejected, TlsFailed
from tests.conftest import mail_server_settings


@pytest.fixture(scope="module")
def mail() -> dict[str, str]:
    return mail_server_settings()


def policy(mail: dict[str, str], **overrides: object) -> OutboundPolicy:
    values: dict[str, object] = {"allow_private": True, "timeout": 10.0, "ca_file": mail["MAILROOM_TEST_MAIL_CA_FILE"]}
    return OutboundPolicy(**(values | overrides))  # type: ignore[arg-type]


def server(mail: dict[str, str], port_key: str, security: Security, user: str = "alice") -> ServerSettings:
    domain = mail["MAILROOM_TEST_MAIL_DOMAIN"]
    return ServerSettings(mail["MAILROOM_TEST_MAIL_HOST"], int(mail[port_key]), security, f"{user}@{domain}")


@pytest.mark.parametrize(
    ("port_key", "security"),
    [
        ("MAILROOM_TEST_IMAP_PORT", Security.NONE),
        ("MAILROOM_TEST_IMAP_PORT", Security.STARTTLS),
        ("MAILROOM_TEST_IMAPS_PORT", Security.SSL),
    ],
)
async def test_imap_login_in_every_security_mode(mail: dict[str, str], port_key: str, security: Security) -> None:
    await AioimaplibLoginCheck(policy(mail)).verify_login(
        server(mail, port_key, security), MailLogin("alice-password-1")
    )


@pytest.mark.parametrize(
    ("port_key", "security"),
    [("MAILROOM_TEST_SUBMISSION_PORT", Security.STARTTLS), ("MAILROOM_TEST_SMTPS_PORT", Security.SSL)],
)
async def test_smtp_login_in_every_security_mode(mail: dict[str, str], port_key: str, security: Security) -> None:
    await SmtpMailSender(policy(mail)).verify_login(server(mail, port_key, security), MailLogin("alice-password-1"))


async def test_wrong_passwords_come_back_with_the_servers_reason(mail: dict[str, str]) -> None:
    with pytest.raises(MailServerRejected, match="AUTHENTICATIONFAILED"):
        await AioimaplibLoginCheck(policy(mail)).verify_login(
            server(mail, "MAILROOM_TEST_IMAP_PORT", Security.STARTTLS), MailLogin("wrong")
        )
    with pytest.raises(MailServerRejected, match="535"):
        await SmtpMailSender(policy(mail)).verify_login(
            server(mail, "MAILROOM_TEST_SUBMISSION_PORT", Security.STARTTLS), MailLogin("wrong")
        )


async def test_an_untrusted_certificate_is_refused(mail: dict[str, str]) -> None:
    with pytest.raises(TlsFailed, match="CERTIFICATE_VERIFY_FAILED"):
        await AioimaplibLoginCheck(policy(mail, ca_file=None)).verify_login(
            server(mail, "MAILROOM_TEST_IMAPS_PORT", Security.SSL), MailLogin("alice-password-1")
        )


async def test_loopback_hosts_are_refused_unless_allowed(mail: dict[str, str]) -> None:
    strict = policy(mail, allow_private=False)
    with pytest.raises(MailServerRejected, match="non-public"):
        await AioimaplibLoginCheck(strict).verify_login(
            server(mail, "MAILROOM_TEST_IMAP_PORT", Security.NONE), MailLogin("x")
        )
    with pytest.raises(MailServerRejected, match="non-public"):
        await SmtpMailSender(strict).verify_login(
            server(mail, "MAILROOM_TEST_SUBMISSION_PORT", Security.NONE), MailLogin("x")
        )


async def test_a_closed_port_is_a_clear_refusal(mail: dict[str, str]) -> None:
    closed = ServerSettings(mail["MAILROOM_TEST_MAIL_HOST"], 9, Security.NONE, "alice")
    with pytest.raises(ConnectionFailed):
        await AioimaplibLoginCheck(policy(mail, timeout=3.0)).verify_login(closed, MailLogin("x"))
    with pytest.raises(ConnectionFailed):
        await SmtpMailSender(policy(mail, timeout=3.0)).verify_login(closed, MailLogin("x"))
