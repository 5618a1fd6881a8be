"""Where plaintext mail logins are not allowed, an account stored earlier with `security: none` gets no connection
at all: its password never crosses the network in clear."""

import asyncio
from collections.abc import AsyncIterator

import pytest

from adapters.imap.connection import open_imap
from adapters.network import OutboundPolicy
from adapters.smtp.pool import ConnectionPool
from adapters.smtp.sender import SmtpMailSender
from domain.accounts import MailLogin, Security, ServerSettings
from domain.errors import MailServerRejected

STRICT = OutboundPolicy(allow_private=True, timeout=5, allow_plaintext=False)


@pytest.fixture
async def listener() -> AsyncIterator[tuple[int, list[int]]]:
    connections: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    yield int(server.sockets[0].getsockname()[1]), connections
    server.close()
    await server.wait_closed()


async def test_imap_without_tls_is_refused_before_connecting(listener: tuple[int, list[int]]) -> None:
    port, connections = listener
    with pytest.raises(MailServerRejected, match="unencrypted"):
        await open_imap(ServerSettings("127.0.0.1", port, Security.NONE, "alice"), MailLogin("secret"), STRICT)
    assert connections == []


async def test_smtp_without_tls_is_refused_before_connecting(listener: tuple[int, list[int]]) -> None:
    port, connections = listener
    sender = SmtpMailSender(STRICT, ConnectionPool(per_login=1))
    try:
        with pytest.raises(MailServerRejected, match="unencrypted"):
            await sender.verify_login(ServerSettings("127.0.0.1", port, Security.NONE, "alice"), MailLogin("secret"))
    finally:
        await sender.close()
    assert connections == []
