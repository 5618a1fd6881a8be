"""aioimaplib's client on a socket connected in advance, without the debug line it formats for every chunk received."""

import asyncio
import socket
import ssl
from collections.abc import Callable

import aioimaplib

from adapters.imap.protocol import ImapProtocol


class Imap4(aioimaplib.IMAP4):  # type: ignore[misc]
    """An `aioimaplib.IMAP4` on `ImapProtocol`, over a socket the SSRF guard already connected to a checked address
    (adapters/network.py): aioimaplib would otherwise resolve `host` again. TLS from the first byte when given an
    `ssl_context`, with SNI and the certificate checked against `host`."""

    def __init__(
        self, host: str, port: int, sock: socket.socket, *, timeout: float, ssl_context: ssl.SSLContext | None
    ) -> None:
        self.sock = sock
        super().__init__(host, port, timeout=timeout, ssl_context=ssl_context)

    def create_client(
        self,
        host: str,
        port: int,
        loop: asyncio.AbstractEventLoop | None,
        conn_lost_cb: Callable[[Exception | None], None] | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        local_loop = loop if loop is not None else asyncio.get_running_loop()
        self.protocol = ImapProtocol(local_loop, conn_lost_cb)
        server_hostname = host if ssl_context is not None else None
        self._client_task = local_loop.create_task(
            local_loop.create_connection(
                lambda: self.protocol, sock=self.sock, ssl=ssl_context, server_hostname=server_hostname
            )
        )
