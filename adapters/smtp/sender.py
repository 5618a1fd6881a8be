import logging
import ssl
from base64 import b64encode

import aiosmtplib
from aiosmtplib.typing import SMTPStatus

from adapters.network import OutboundPolicy, tls_failure
from adapters.smtp.pool import ConnectionPool, Lease, PoolKey
from domain.accounts import MailLogin, Security, ServerSettings
from domain.drafts import Envelope
from domain.errors import ConnectionFailed, DeliveryFailed, LoginRefused, MailServerRejected, TlsFailed
from domain.ports.mail import MailSender

log = logging.getLogger("mailroom.smtp")

_DROPPED = (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError, ssl.SSLError, TimeoutError)
"""The connection went (ssl.SSLError is an OSError: a failed handshake is told apart by tls_failure)."""


class SmtpMailSender(MailSender):
    """aiosmtplib behind the MailSender port. A reply of 5xx is a permanent failure, 4xx, a dropped connection
    or a timeout a temporary one (RFC 5321 section 4.2.1). `timeout` bounds every command and the data."""

    def __init__(self, policy: OutboundPolicy, pool: ConnectionPool | None = None) -> None:
        self._policy = policy
        self._pool = pool or ConnectionPool()

    async def verify_login(self, server: ServerSettings, login: MailLogin) -> None:
        try:
            client = await self._open(server, login)
        except DeliveryFailed as error:
            if error.login_refused:
                raise LoginRefused("smtp", error.reply) from None
            if error.tls:
                raise TlsFailed("smtp", error.reply) from None
            if error.connection:
                raise ConnectionFailed("smtp", error.reply) from None
            raise MailServerRejected("smtp", error.reply) from None
        client.close()

    async def send(self, server: ServerSettings, login: MailLogin, envelope: Envelope, message: bytes) -> str:
        key = PoolKey.of(server, login)
        for _ in range(2):
            async with self._pool.connection(key, lambda: self._open(server, login)) as lease:
                try:
                    return await _transaction(lease, envelope, message)
                except _StaleConnection:
                    lease.healthy = False
        raise DeliveryFailed(
            "the server closed the connection twice before the transaction", permanent=False, connection=True
        )

    async def close(self) -> None:
        await self._pool.close()

    async def _open(self, server: ServerSettings, login: MailLogin) -> aiosmtplib.SMTP:
        """`hostname` is only the name for TLS (SNI, the certificate check, also after STARTTLS): the socket is
        already connected to an address the SSRF guard checked, so aiosmtplib never resolves the name itself (and
        keeps that socket: a client cannot reconnect by name)."""
        try:
            self._policy.require_tls("smtp", server.security)
            sock = await self._policy.connect("smtp", server.host, server.port)
        except MailServerRejected as error:
            raise DeliveryFailed(error.reason, permanent=True) from None
        except OSError as error:
            reason = "timed out" if isinstance(error, TimeoutError) else str(error) or type(error).__name__
            raise DeliveryFailed(
                f"cannot connect to {server.host}:{server.port}: {reason}", permanent=False, connection=True
            ) from None
        client = aiosmtplib.SMTP(
            hostname=server.host,
            sock=sock,
            use_tls=server.security is Security.SSL,
            start_tls=server.security is Security.STARTTLS,
            tls_context=self._policy.tls_context(),
            timeout=self._policy.timeout,
        )
        try:
            await client.connect()
            if login.bearer:
                await _authenticate(client, server.username, login.secret)
            else:
                await client.login(server.username, login.secret)
        except aiosmtplib.SMTPAuthenticationError as error:
            client.close()
            # 535 is "credentials invalid" (RFC 4954 section 6); 454 is temporary, 530/534 ask for other mechanisms
            refused = error.code == 535
            raise DeliveryFailed(
                f"{error.code} {error.message}", permanent=error.code >= 500, login_refused=refused
            ) from None
        except aiosmtplib.SMTPResponseException as error:
            client.close()
            raise _failure(error.code, error.message) from None
        except (aiosmtplib.SMTPException, *_DROPPED) as error:
            client.close()
            raise _not_connected(error, server.port) from None
        return client


async def _authenticate(client: aiosmtplib.SMTP, username: str, token: str) -> None:
    """SMTP AUTH (RFC 4954) with an OAuth2 access token: OAUTHBEARER (RFC 7628) where the server advertises it,
    else XOAUTH2. An error challenge (334 with the error in JSON) is answered so the server sends its final reply
    (RFC 7628 section 3.2.3: ^A for OAUTHBEARER, an empty line for XOAUTH2)."""
    if "oauthbearer" not in client.server_auth_methods:
        await client.auth_xoauth2(username, token)
        return
    name = username.replace("=", "=3D").replace(",", "=2C")
    response = b64encode(f"n,a={name},\x01auth=Bearer {token}\x01\x01".encode())
    reply = await client.execute_command(b"AUTH", b"OAUTHBEARER", response)
    if reply.code == SMTPStatus.auth_continue:
        reply = await client.execute_command(b64encode(b"\x01"))
    if reply.code != SMTPStatus.auth_successful:
        raise aiosmtplib.SMTPAuthenticationError(reply.code, reply.message)


class _StaleConnection(Exception):
    """A kept connection the server had closed; nothing was sent on it, so a new one may try at once."""


async def _transaction(lease: Lease, envelope: Envelope, message: bytes) -> str:
    client = lease.client
    options = ["BODY=8BITMIME"] if _has_8bit(message) and client.supports_extension("8bitmime") else []
    try:
        await client.mail(envelope.sender, options=options)
    except aiosmtplib.SMTPServerDisconnected:
        if lease.reused:
            raise _StaleConnection from None
        raise DeliveryFailed("connection lost before MAIL FROM", permanent=False, connection=True) from None
    except aiosmtplib.SMTPResponseException as error:
        lease.healthy = False
        raise _failure(error.code, error.message) from None
    except _DROPPED as error:
        lease.healthy = False
        raise DeliveryFailed(str(error) or type(error).__name__, permanent=False, connection=True) from None
    try:
        refused = await _recipients(client, envelope)
        response = await client.data(message)
    except aiosmtplib.SMTPResponseException as error:
        lease.healthy = False
        raise _failure(error.code, error.message) from None
    except (aiosmtplib.SMTPException, *_DROPPED) as error:
        lease.healthy = False
        dropped = isinstance(error, _DROPPED)
        reason = f"connection lost: {str(error) or type(error).__name__}"
        raise DeliveryFailed(reason, permanent=False, connection=dropped) from None
    reply = f"{response.code} {response.message}"
    if refused:
        reply += "; refused: " + "; ".join(f"{rcpt} ({code} {text})" for rcpt, (code, text) in refused.items())
    return reply


async def _recipients(client: aiosmtplib.SMTP, envelope: Envelope) -> dict[str, tuple[int, str]]:
    """RCPT TO for each; fails the send only when every recipient is refused (the most hopeful reply wins:
    one temporary refusal makes the whole failure temporary)."""
    refused: dict[str, tuple[int, str]] = {}
    for recipient in envelope.recipients:
        try:
            await client.rcpt(recipient)
        except aiosmtplib.SMTPRecipientRefused as error:
            refused[recipient] = (error.code, error.message)
    if len(refused) == len(envelope.recipients):
        code = min(code for code, _ in refused.values())
        text = "; ".join(f"{rcpt}: {code} {message}" for rcpt, (code, message) in refused.items())
        raise DeliveryFailed(f"every recipient was refused: {text}", permanent=code >= 500)
    return refused


def _not_connected(error: Exception, port: int) -> DeliveryFailed:
    """Connecting, TLS or the login's conversation failed: a failed TLS handshake, a connection refused, dropped or
    timed out, or another client error (a server that does not offer STARTTLS)."""
    if (tls := tls_failure(error)) is not None:
        return DeliveryFailed(tls, permanent=False, tls=True)
    if type(error) is aiosmtplib.SMTPException and "STARTTLS" in str(error):  # the server does not offer it
        return DeliveryFailed(f"TLS failed: {error}", permanent=False, tls=True)
    # aiosmtplib names the port it was given, and it is given a socket instead
    reason = str(error).replace(" on port None:", f" on port {port}:") or type(error).__name__
    dropped = isinstance(error, (aiosmtplib.SMTPConnectError, *_DROPPED))
    return DeliveryFailed(reason, permanent=False, connection=dropped)


def _failure(code: int, message: str) -> DeliveryFailed:
    return DeliveryFailed(f"{code} {message}", permanent=code >= 500)


def _has_8bit(message: bytes) -> bool:
    return not message.isascii()
