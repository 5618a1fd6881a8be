"""TLS on connections pinned to a checked address, against the real Dovecot and Postfix: the certificate
(deploy/local/mailservers.sh: names `localhost` and `mailservers`, address 127.0.0.1) is checked against the host
name the user gave, never against the address the connection went to."""

from collections.abc import Sequence

import pytest

from adapters.imap.login_check import AioimaplibLoginCheck
from adapters.network import OutboundPolicy
from adapters.smtp.sender import SmtpMailSender
from domain.accounts import MailLogin, Security, ServerSettings
from domain.errors import TlsFailed
from tests.conftest import mail_server_settings

TLS_MODES = [
    ("imap", "MAILROOM_TEST_IMAP_PORT", Security.STARTTLS),
    ("imap", "MAILROOM_TEST_IMAPS_PORT", Security.SSL),
    ("smtp", "MAILROOM_TEST_SUBMISSION_PORT", Security.STARTTLS),
    ("smtp", "MAILROOM_TEST_SMTPS_PORT", Security.SSL),
]


@pytest.fixture(scope="module")
def mail() -> dict[str, str]:
    return mail_server_settings()


async def _to_the_mail_servers(host: str, port: int) -> Sequence[str]:
    """A DNS where every name is the local servers: only the name given can tell a good certificate from a bad."""
    return ["127.0.0.1"]


async def login(mail: dict[str, str], host: str, protocol: str, port_key: str, security: Security) -> None:
    policy = OutboundPolicy(
        allow_private=True, timeout=10.0, ca_file=mail["MAILROOM_TEST_MAIL_CA_FILE"], resolver=_to_the_mail_servers
    )
    server = ServerSettings(host, int(mail[port_key]), security, f"alice@{mail['MAILROOM_TEST_MAIL_DOMAIN']}")
    if protocol == "imap":
        await AioimaplibLoginCheck(policy).verify_login(server, MailLogin("alice-password-1"))
    else:
        await SmtpMailSender(policy).verify_login(server, MailLogin("alice-password-1"))


@pytest.mark.parametrize(("protocol", "port_key", "security"), TLS_MODES)
async def test_a_name_on_the_certificate_logs_in_through_the_checked_address(
    mail: dict[str, str], protocol: str, port_key: str, security: Security
) -> None:
    await login(mail, "mailservers", protocol, port_key, security)


@pytest.mark.parametrize(("protocol", "port_key", "security"), TLS_MODES)
async def test_a_name_not_on_the_certificate_is_refused_though_its_address_is(
    mail: dict[str, str], protocol: str, port_key: str, security: Security
) -> None:
    with pytest.raises(TlsFailed, match=r"^(imap|smtp): TLS failed: .*Hostname mismatch"):
        await login(mail, "imap.elsewhere.example", protocol, port_key, security)
