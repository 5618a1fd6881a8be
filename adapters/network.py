"""Outbound connections to user-supplied mail hosts: TLS settings and the SSRF guard shared by IMAP and SMTP."""

import asyncio
import ipaddress
import socket
import ssl
from dataclasses import dataclass

from domain.errors import MailServerRejected


@dataclass(frozen=True, slots=True)
class OutboundPolicy:
    """`allow_private` lets hosts resolve to loopback, private or link-local addresses (development, tests)."""

    allow_private: bool = False
    timeout: float = 15.0
    ca_file: str | None = None

    def tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)

    async def check_host(self, protocol: str, host: str, port: int) -> None:
        """Refuses a host that resolves to an internal address (cloud metadata, the database, ...)."""
        if self.allow_private:
            return
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as error:
            raise MailServerRejected(protocol, f"cannot resolve {host}: {error.strerror or error}") from None
        for *_, sockaddr in infos:
            if not ipaddress.ip_address(sockaddr[0]).is_global:
                raise MailServerRejected(protocol, f"{host} resolves to a non-public address, which is not allowed")
