"""aioimaplib's client, without the debug line it formats for every chunk received."""

import asyncio
import ssl
from collections.abc import Callable

import aioimaplib


class _Protocol(aioimaplib.IMAP4ClientProtocol):  # type: ignore[misc]
    """aioimaplib's `data_received` starts with `log.debug('Received : %s' % d)`: the repr of every chunk is
    built whether or not debug logging is on. In a first sync that was a tenth of the process's CPU (profiled
    on the bench-sync corpus), and at debug level it would log message contents. The rest is the original."""

    incomplete_line: bytes
    current_command: aioimaplib.Command | None

    def data_received(self, d: bytes) -> None:
        try:
            self._handle_responses(self.incomplete_line + d, self._handle_line, self.current_command)
            self.incomplete_line = b""
            self.current_command = None
        except aioimaplib.IncompleteRead as incomplete_read:
            self.current_command = incomplete_read.cmd
            self.incomplete_line = incomplete_read.data


class Imap4(aioimaplib.IMAP4):  # type: ignore[misc]
    """An `aioimaplib.IMAP4` on `_Protocol`; TLS from the first byte when given an `ssl_context`."""

    def create_client(
        self,
        host: str,
        port: int,
        loop: asyncio.AbstractEventLoop | None,
        conn_lost_cb: Callable[[Exception | None], None] | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        local_loop = loop if loop is not None else asyncio.get_running_loop()
        self.protocol = _Protocol(local_loop, conn_lost_cb)
        self._client_task = local_loop.create_task(
            local_loop.create_connection(lambda: self.protocol, host, port, ssl=ssl_context)
        )
