import asyncio
import contextlib
import socket
import ssl

import aioimaplib

from adapters.imap.client import Imap4
from adapters.imap.sasl import authenticate
from adapters.network import OutboundPolicy, tls_failure
from domain.accounts import MailLogin, Security, ServerSettings
from domain.errors import ConnectionFailed, LoginRefused, MailServerRejected, TlsFailed


async def open_imap(server: ServerSettings, login: MailLogin, policy: OutboundPolicy) -> aioimaplib.IMAP4:
    """Connects with the account's transport security and logs in: LOGIN with a password, AUTHENTICATE with an
    OAuth2 access token (adapters/imap/sasl.py). A refused login is a LoginRefused, a failed TLS handshake a
    TlsFailed, a connection refused, dropped or timed out a ConnectionFailed, every other failure a
    MailServerRejected."""
    try:
        client = await _connect(server, policy)
        if login.bearer:
            response = await authenticate(client, server.username, login.secret, policy.timeout)
        else:
            response = await client.login(server.username, login.secret)
    except MailServerRejected:
        raise
    except (OSError, ssl.SSLError, TimeoutError, aioimaplib.AioImapException) as error:
        if (tls := tls_failure(error)) is not None:
            raise TlsFailed("imap", tls) from None
        raise ConnectionFailed("imap", _describe(error)) from None
    if response.result != "OK":
        await _quietly_logout(client)
        raise LoginRefused("imap", _server_text(response.lines) or "login refused")
    return client


async def close_imap(client: aioimaplib.IMAP4) -> None:
    await _quietly_logout(client)


async def _connect(server: ServerSettings, policy: OutboundPolicy) -> aioimaplib.IMAP4:
    policy.require_tls("imap", server.security)
    sock = await policy.connect("imap", server.host, server.port)
    tls = policy.tls_context() if server.security is Security.SSL else None
    client = Imap4(server.host, server.port, sock, timeout=policy.timeout, ssl_context=tls)
    try:
        await client.wait_hello_from_server()
        if server.security is Security.STARTTLS:
            await _starttls(client, server.host, policy)
    except BaseException:
        _abandon(client, sock)
        raise
    return client


async def _starttls(client: aioimaplib.IMAP4, host: str, policy: OutboundPolicy) -> None:
    """STARTTLS (RFC 2595 section 3.1), which aioimaplib lacks: upgrade the transport in place.

    Capabilities learned before the upgrade must be discarded (RFC 3501 section 6.2.1), and so must anything the
    server sent after its OK in plaintext: a man in the middle could append it, to be read as if it came over
    TLS (the STARTTLS command injection of CVE-2011-0411 and its IMAP kin). A connection holding such bytes is
    refused.
    """
    protocol = client.protocol
    if not client.has_capability("STARTTLS"):
        raise TlsFailed("imap", "server does not offer STARTTLS")
    command = aioimaplib.Command("STARTTLS", protocol.new_tag(), loop=protocol.loop)
    response = await asyncio.wait_for(protocol.execute(command), policy.timeout)
    if response.result != "OK":
        raise MailServerRejected("imap", _server_text(response.lines) or "STARTTLS refused")
    if protocol.incomplete_line:
        raise MailServerRejected("imap", "the server sent more after agreeing to STARTTLS")
    loop = asyncio.get_running_loop()
    protocol.transport = await asyncio.wait_for(
        loop.start_tls(protocol.transport, protocol, policy.tls_context(), server_hostname=host), policy.timeout
    )
    protocol.capabilities = set()
    await asyncio.wait_for(protocol.capability(), policy.timeout)


async def _quietly_logout(client: aioimaplib.IMAP4) -> None:
    transport = client.protocol.transport
    if transport is None or transport.is_closing():
        return
    with contextlib.suppress(OSError, TimeoutError, aioimaplib.AioImapException):
        await client.logout()


def _abandon(client: aioimaplib.IMAP4, sock: socket.socket) -> None:
    """Closes a connection that failed before login: its transport once asyncio has one, else the bare socket."""
    transport = client.protocol.transport
    if transport is not None:
        transport.close()
    else:
        sock.close()


def _server_text(lines: list[bytes]) -> str:
    return " ".join(line.decode(errors="replace") for line in lines if line).strip()[:300]


def _describe(error: BaseException) -> str:
    if isinstance(error, TimeoutError | asyncio.TimeoutError):
        return "timed out"
    return str(error) or type(error).__name__
