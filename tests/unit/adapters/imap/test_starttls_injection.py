"""Bytes a server (or a man in the middle) sends after agreeing to STARTTLS, before the handshake, are never read
as if they had come over TLS: the connection is refused."""

import asyncio
from collections.abc import AsyncIterator

import pytest

from adapters.imap.connection import open_imap
from adapters.network import OutboundPolicy
from domain.accounts import MailLogin, Security, ServerSettings
from domain.errors import MailServerRejected


@pytest.fixture
async def injecting_server() -> AsyncIterator[int]:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n")
        while line := await reader.readline():
            tag, _, command = line.decode().partition(" ")
            if command.upper().startswith("CAPABILITY"):
                writer.write(f"* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\n{tag} OK done\r\n".encode())
            elif command.upper().startswith("STARTTLS"):
                writer.write(f"{tag} OK begin TLS\r\n* CAPABILITY IMAP4rev1 AUTH=PLA".encode())
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    yield int(server.sockets[0].getsockname()[1])
    server.close()
    await server.wait_closed()


async def test_plaintext_after_the_starttls_ok_is_refused(injecting_server: int) -> None:
    server = ServerSettings("127.0.0.1", injecting_server, Security.STARTTLS, "alice")
    with pytest.raises(MailServerRejected, match="after agreeing to STARTTLS"):
        await open_imap(server, MailLogin("secret"), OutboundPolicy(allow_private=True, timeout=5))
